import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

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
  /** How ipgate runs: `npm start`'s command, V8 flags included. */
  readonly ipgateCommand: string;
  /** 1-minute load average before and after the run: other work on the machine. */
  readonly loadBefore: number;
  readonly loadAfter: number;
}

/** Reads the machine's CPUs, memory and the versions of every program the run uses. */
export async function describeMachine(): Promise<Machine> {
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
    ipgateCommand: await startCommand(),
    loadBefore: load,
    loadAfter: load,
  };
}

// The first line a program prints (standard output, else standard error); `wrk -v` prints
// its version and then fails for want of a URL.
function firstLine(command: string, args: readonly string[]): Promise<string> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  return new Promise((resolve) => {
    child.once('error', () => resolve('not found'));
    child.once('close', () => resolve(text.split('\n')[0]?.trim() ?? ''));
  });
}

async function startCommand(): Promise<string> {
  const manifest = JSON.parse(await readFile('package.json', 'utf8')) as {
    scripts: { start: string };
  };
  return manifest.scripts.start;
}
