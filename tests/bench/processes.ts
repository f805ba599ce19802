import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { freePort } from '../helpers/free-port.js';
import { onCpu, SERVER_CPU } from './cpus.js';

/** The webhook secret every benchmarked ipgate is started with. */
export const BENCH_SECRET = 'bench-secret-0123456789abcdef';

/** A server process started by the benchmark, listening on 127.0.0.1. */
export interface BenchProcess {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  stop(): Promise<void>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

// Every process the benchmark started and has not stopped yet, and how to stop the others.
const children = new Set<ChildProcess>();
const stoppers = new Set<() => Promise<void>>();

/** Remembers how to stop something (Redis, Caddy) if the run fails; returns a forget. */
export function stopOnFailure(stop: () => Promise<void>): () => void {
  stoppers.add(stop);
  return () => stoppers.delete(stop);
}

/** Kills every process the run started and has not stopped; the way out after a failure. */
export async function stopEverything(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  const deadline = new Promise((resolve) => setTimeout(resolve, 5000).unref());
  await Promise.race([Promise.allSettled([...stoppers].map((stop) => stop())), deadline]);
}

/** One request over a kept-alive loopback connection; resolves with status and body. */
export function ask(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent, method: options.method ?? 'GET', headers: options.headers ?? {}, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer in 5 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The status `/verify` answers for a client behind one trusted proxy hop. */
export async function verifyStatus(baseUrl: string, client: string): Promise<number> {
  const response = await ask(`${baseUrl}/verify`, { headers: { 'X-Forwarded-For': client } });
  return response.status;
}

/**
 * Posts an Authentik login for `client` to ipgate's webhook, as if it happened
 * `agoMs` before now. Returns the grant's end in ms since the epoch.
 */
export async function login(baseUrl: string, client: string, agoMs = 0): Promise<number> {
  const body = JSON.stringify({
    event_id: randomUUID(),
    action: 'login',
    username: 'bench-user',
    client_ip: client,
    created: new Date(Date.now() - agoMs).toISOString(),
  });
  const post = () =>
    ask(`${baseUrl}/authentik/webhook`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${BENCH_SECRET}`, 'Content-Type': 'application/json' },
      body,
    });
  let response = await post();
  // A 503 (Redis slower than ipgate's 100 ms command timeout) is retried, as Authentik does.
  for (let retry = 0; retry < 3 && response.status === 503; retry++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    response = await post();
  }
  const answer = JSON.parse(response.body) as { status?: string; expiresAt?: string };
  if (response.status !== 200 || answer.status !== 'granted' || !answer.expiresAt) {
    throw new Error(`webhook refused ${client}: ${response.status} ${response.body}`);
  }
  return Date.parse(answer.expiresAt);
}

/** The arguments `npm start` gives node: its V8 flags and `dist/main.js`. */
async function startArguments(): Promise<string[]> {
  const manifest = JSON.parse(await readFile('package.json', 'utf8')) as {
    scripts: { start: string };
  };
  return manifest.scripts.start.split(' ').slice(1);
}

/** Runs ipgate (built first) as `npm start` does, with the given settings on a free port. */
export async function startIpgateProcess(
  name: string,
  env: Record<string, string>,
): Promise<BenchProcess> {
  const port = await freePort();
  const [command, args] = onCpu(SERVER_CPU, process.execPath, await startArguments());
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      WEBHOOK_SECRET: BENCH_SECRET,
      TRUSTED_PROXIES: '127.0.0.1/32, ::1/128',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const started = await running(name, child, port);
  await waitUntil(`${name} ready`, async () => {
    const response = await ask(`${started.url}/readyz`);
    return response.status === 200;
  });
  // The grant-change subscription comes up just after Redis answers; until then nothing
  // is cached, which would make the first measurements pay a Redis round trip.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return started;
}

/** Runs tests/bench/bare-app.mjs: a Hono app on @hono/node-server with nothing in it. */
export async function startBareApp(name: string): Promise<BenchProcess> {
  const port = await freePort();
  const [command, args] = onCpu(SERVER_CPU, process.execPath, ['tests/bench/bare-app.mjs']);
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return running(name, child, port);
}

async function running(name: string, child: ChildProcess, port: number): Promise<BenchProcess> {
  const url = `http://127.0.0.1:${port}`;
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('exit', () => children.delete(child));
  await waitUntil(`${name} listening`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    await ask(`${url}/healthz`);
    return true;
  });
  return {
    name,
    port,
    pid: child.pid ?? 0,
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every 50 ms for at most `timeoutMs`; errors count as "not yet". */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`, { cause: last });
}

/** Resident and peak resident memory of a process, in bytes, from /proc. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}
