import { spawn } from 'node:child_process';
import { LOAD_CPU, onCpu } from './cpus.js';

/** What one wrk run measured. Latencies in ms. */
export interface WrkResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

/** How wrk loads one URL. */
export interface WrkLoad {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly seconds: number;
  readonly connections: number;
  readonly threads?: number;
  /** A Lua script and its arguments (after `--`). */
  readonly script?: string;
  readonly scriptArgs?: readonly string[];
  /** Interrupts wrk (SIGINT, which makes it report) once it has printed this line this often. */
  readonly stopAfter?: { readonly line: string; readonly times: number };
}

/** Runs wrk once (`--latency`) and parses its summary. */
export async function runWrk(load: WrkLoad): Promise<WrkResult> {
  const args = [
    `-t${load.threads ?? 1}`,
    `-c${load.connections}`,
    `-d${load.seconds}s`,
    '--timeout',
    '5s',
    '--latency',
  ];
  for (const [name, value] of Object.entries(load.headers ?? {}))
    args.push('-H', `${name}: ${value}`);
  if (load.script !== undefined) args.push('-s', load.script);
  args.push(load.url);
  if (load.scriptArgs !== undefined) args.push('--', ...load.scriptArgs);

  const started = performance.now();
  const result = await runWrkProcess(args, load);
  if (result.code !== 0) throw new Error(`wrk failed (${result.code}): ${result.stderr}`);
  const parsed = parseWrk(result.stdout);
  if (load.stopAfter === undefined) return parsed;
  // wrk divides by its whole duration; count from start to interrupt instead.
  const seconds = (performance.now() - started) / 1000;
  return { ...parsed, requestsPerSecond: parsed.requests / seconds };
}

function runWrkProcess(args: readonly string[], load: WrkLoad) {
  const [command, pinnedArgs] = onCpu(LOAD_CPU, 'wrk', args);
  const child = spawn(command, pinnedArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let seen = 0;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const { stopAfter } = load;
    if (stopAfter === undefined) return;
    seen = stdout.split(`${stopAfter.line}\n`).length - 1;
    if (seen >= stopAfter.times && child.exitCode === null) child.kill('SIGINT');
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), (load.seconds + 30) * 1000);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Reads wrk's text summary: requests, Requests/sec, the latency distribution, errors. */
export function parseWrk(text: string): WrkResult {
  const number = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: number(/(\d+) requests in/),
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: latency(text, '50'),
    p99Ms: latency(text, '99'),
    errors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/) || 0,
  };
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latency(text: string, percent: string): number {
  const match = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  if (match === null) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
}
