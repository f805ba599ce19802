import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { runCommand } from '../helpers/run-command.js';

/** What the numbers were measured on. */
export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly redis: string;
  readonly caddy: string;
  readonly wrk: string;
  /** 1-minute load average before and after the run: other work on the machine. */
  readonly loadBefore: number;
  readonly loadAfter: number;
}

/** Reads the machine's CPUs, memory and the versions of every program the run uses. */
export async function describeMachine(): Promise<Machine> {
  const firstLine = async (command: string, args: string[]) => {
    const result = await runCommand(command, args, { timeoutMs: 10_000 });
    return `${result.stdout}${result.stderr}`.split('\n')[0]?.trim() ?? '';
  };
  const load = loadavg()[0] ?? 0;
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()}`,
    node: process.version,
    redis: await firstLine('redis-server', ['--version']),
    caddy: await firstLine('caddy', ['version']),
    wrk: (await firstLine('wrk', ['-v'])).replace(/ Copyright.*/, ''),
    loadBefore: load,
    loadAfter: load,
  };
}
