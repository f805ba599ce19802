import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './free-port.js';

export interface IpgateProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every JSON line written to stdout so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Resolves with the first log line whose `msg` is `message`. */
  waitForLog(message: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Runs `src/main.ts` as its own process, the way `npm start` runs the built service. */
export async function spawnIpgate(env: Record<string, string>): Promise<IpgateProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { message: string; resolve: (line: Record<string, unknown>) => void }[] = [];

  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    for (const text of complete.filter((line) => line.trim() !== '')) {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.message === line.msg)) waiter.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    // 'close', not 'exit': it comes after stdout has been read to the end, so the last
    // log lines are in `lines` by then.
    child.once('close', (code) => resolve(code)),
  );

  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    exited,
    waitForLog(message, timeoutMs = 10_000) {
      const seen = lines.find((line) => line.msg === message);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${message}" log line`)), timeoutMs);
        waiters.push({
          message,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}
