/**
 * Soak test: runs ipgate as its own process (built, and started as `npm start` starts it) against a private redis-server and drives
 * `/verify` and the webhook at full speed over loopback, with a churn of grants (webhook)
 * and revokes (DEL), for SOAK_SECONDS (default 600). Every REPORT_SECONDS it prints the
 * request rate, latency percentiles and ipgate's RSS; at the end a JSON summary.
 *
 * Exits 1 when any request failed, or when RSS grew by more than 10 % after warm-up.
 *
 *   npm run soak                      # 10 minutes
 *   SOAK_SECONDS=60 npm run soak      # the CI version
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

const SECONDS = positive('SOAK_SECONDS', 600);
const REPORT_SECONDS = positive('REPORT_SECONDS', SECONDS > 120 ? 30 : 10);
const VERIFY_WORKERS = positive('VERIFY_WORKERS', 32);
const CHURN_WORKERS = positive('CHURN_WORKERS', 4);
const MAX_RSS_GROWTH = 0.1;
const SECRET = 'soak-secret-0123456789abcdef';

// Addresses: static ones always allowed, a pool that is granted and revoked all the
// time (200 or 403 are both right), and outsiders that are never granted (always 403).
const STATIC = '192.0.2.0/24';
const POOL = Array.from({ length: 2000 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`);
const OUTSIDERS = Array.from({ length: 256 }, (_, i) => `203.0.113.${i}`);

interface Window {
  latencies: number[];
  verify: number;
  webhook: number;
  revoke: number;
}

const errors = new Map<string, number>();
let window: Window = { latencies: [], verify: 0, webhook: 0, revoke: 0 };
const allLatencies: number[] = [];

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function fail(kind: string): void {
  errors.set(kind, (errors.get(kind) ?? 0) + 1);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(),
      );
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not start`);
}

function send(
  agent: Agent,
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

async function verifyWorker(agent: Agent, port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const roll = Math.random();
    const kind = roll < 0.1 ? 'static' : roll < 0.3 ? 'outsider' : 'pool';
    const ip =
      kind === 'static'
        ? `192.0.2.${Math.floor(Math.random() * 256)}`
        : pick(kind === 'pool' ? POOL : OUTSIDERS);
    const start = performance.now();
    try {
      const status = await send(agent, port, '/verify', { headers: { 'X-Forwarded-For': ip } });
      const ok =
        kind === 'static'
          ? status === 200
          : kind === 'outsider'
            ? status === 403
            : status === 200 || status === 403;
      if (!ok) fail(`verify ${kind} ${status}`);
    } catch (error) {
      fail(`verify ${(error as Error).message}`);
    }
    const elapsed = performance.now() - start;
    window.latencies.push(elapsed);
    window.verify++;
  }
}

async function churnWorker(
  agent: Agent,
  port: number,
  redis: Redis,
  deadline: number,
): Promise<void> {
  while (Date.now() < deadline) {
    const body = JSON.stringify({ client_ip: pick(POOL), username: 'soak', action: 'login' });
    try {
      const status = await send(agent, port, '/authentik/webhook', {
        method: 'POST',
        headers: { Authorization: `Bearer ${SECRET}`, 'Content-Type': 'application/json' },
        body,
      });
      if (status !== 200) fail(`webhook ${status}`);
    } catch (error) {
      fail(`webhook ${(error as Error).message}`);
    }
    window.webhook++;
    try {
      await redis.del(`ipgate:ip:${pick(POOL)}`);
    } catch (error) {
      fail(`revoke ${(error as Error).message}`);
    }
    window.revoke++;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round((kib / 1024) * 10) / 10;
}

function latencySummary(latencies: number[]) {
  const sorted = latencies.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    p999: round(percentile(sorted, 99.9)),
    max: round(sorted.at(-1) ?? 0),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ipgate-soak-'));
  const redisPort = await freePort();
  const port = await freePort();
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  // Ctrl-C or a CI timeout ends redis-server and ipgate too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(1);
    });
  }
  process.on('exit', cleanup);

  const redisArgs = [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
  ];
  children.push(spawn('redis-server', redisArgs, { stdio: 'ignore' }));
  const redis = new Redis(`redis://127.0.0.1:${redisPort}`, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // refused until redis-server listens; waitFor retries
  await waitFor(async () => (await redis.ping()) === 'PONG', 'redis-server');

  // As in production: the build, with npm start's V8 flags, which shape RSS.
  const ipgate = spawn(process.execPath, startArguments(), {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      WEBHOOK_SECRET: SECRET,
      STATIC_CIDRS: STATIC,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(ipgate);
  let logged = '';
  ipgate.stdout?.on('data', (chunk: Buffer) => {
    logged += chunk.toString('utf8');
    const lines = logged.split('\n');
    logged = lines.pop() ?? '';
    for (const line of lines) {
      const level = (JSON.parse(line) as { level?: string }).level;
      if (level === 'error' || level === 'fatal') fail(`log ${line.slice(0, 200)}`);
    }
  });
  const probe = new Agent({ keepAlive: false });
  await waitFor(async () => (await send(probe, port, '/readyz', {})) === 200, 'ipgate');
  const pid = ipgate.pid as number;

  const agent = new Agent({ keepAlive: true, maxSockets: VERIFY_WORKERS + CHURN_WORKERS });
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const workers = [
    ...Array.from({ length: VERIFY_WORKERS }, () => verifyWorker(agent, port, deadline)),
    ...Array.from({ length: CHURN_WORKERS }, () => churnWorker(agent, port, redis, deadline)),
  ];
  console.log(
    JSON.stringify({
      seconds: SECONDS,
      verifyWorkers: VERIFY_WORKERS,
      churnWorkers: CHURN_WORKERS,
      rssMiB: rssMiB(pid),
    }),
  );

  const samples: { t: number; rssMiB: number }[] = [];
  const totals = { verify: 0, webhook: 0, revoke: 0 };
  const reporter = (async () => {
    while (Date.now() < deadline) {
      await sleep(Math.min(REPORT_SECONDS * 1000, Math.max(deadline - Date.now(), 0)));
      const current = window;
      window = { latencies: [], verify: 0, webhook: 0, revoke: 0 };
      for (const latency of current.latencies) allLatencies.push(latency);
      totals.verify += current.verify;
      totals.webhook += current.webhook;
      totals.revoke += current.revoke;
      const t = Math.round((Date.now() - started) / 1000);
      const rss = rssMiB(pid);
      samples.push({ t, rssMiB: rss });
      const rate = (count: number) => Math.round(count / REPORT_SECONDS);
      console.log(
        JSON.stringify({
          t,
          verifyPerS: rate(current.verify),
          webhookPerS: rate(current.webhook),
          revokePerS: rate(current.revoke),
          verifyMs: latencySummary(current.latencies),
          rssMiB: rss,
          errors: [...errors.values()].reduce((a, b) => a + b, 0),
        }),
      );
    }
  })();
  await Promise.all([...workers, reporter]);

  // Warm-up: the first fifth of the run, and at least 10 s. After it, RSS is compared
  // with the median of the last three samples, so one GC pause does not decide.
  const warmUpSeconds = Math.max(10, SECONDS / 5);
  const baseline = samples.find((sample) => sample.t >= warmUpSeconds)?.rssMiB ?? Number.NaN;
  const tail = samples
    .slice(-3)
    .map((sample) => sample.rssMiB)
    .sort((a, b) => a - b);
  const final = tail[Math.floor(tail.length / 2)] ?? Number.NaN;
  const growth = (final - baseline) / baseline;

  const summary = {
    seconds: SECONDS,
    requests: totals,
    verifyPerS: Math.round(totals.verify / SECONDS),
    verifyMs: latencySummary(allLatencies),
    rssMiB: { afterWarmUp: baseline, final, growthPercent: Math.round(growth * 1000) / 10 },
    errors: Object.fromEntries(errors),
  };
  console.log(JSON.stringify(summary));

  ipgate.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => ipgate.once('exit', resolve));
  if (code !== 0) fail(`ipgate exit ${code}`);
  redis.disconnect();
  agent.destroy();
  // The redis-server child would keep this process alive: end it, then exit.
  cleanup();

  const passed = errors.size === 0 && growth <= MAX_RSS_GROWTH;
  console.log(
    passed
      ? 'soak passed'
      : `soak FAILED: ${JSON.stringify(Object.fromEntries(errors))}, RSS growth ${summary.rssMiB.growthPercent} %`,
  );
  process.exit(passed ? 0 : 1);
}

await main();

/** The arguments `npm start` gives node: its V8 flags and `dist/main.js`. */
function startArguments(): string[] {
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
    scripts: { start: string };
  };
  return manifest.scripts.start.split(' ').slice(1);
}
