import { afterEach, describe, expect, it } from 'vitest';
import { HEARTBEAT_MS } from '../src/grant-events.js';
import { REDIS_TIMEOUT_MS } from '../src/redis.js';
import { request } from './helpers/http.js';
import { SECRET } from './helpers/ipgate.js';
import { latencies, type Sample, VerifyLoad } from './helpers/load.js';
import { decisionsSlowerThan, scrapeMetrics } from './helpers/metrics.js';
import { type IpgateProcess, spawnIpgate } from './helpers/process.js';
import { RedisServer } from './helpers/redis-server.js';

// Under load, with ipgate as its own process: the faults of a real redis-server.
const STATIC_IP = '192.0.2.7';
const GRANTED = '198.51.100.7';
const STRANGER = '198.51.100.99';
const LATE = '198.51.100.50';

/**
 * How long a cached allow may outlive a Redis that stopped answering: the next heartbeat
 * PING goes out within HEARTBEAT_MS and times out after REDIS_TIMEOUT_MS. A closed
 * connection empties the cache at once. SLACK_MS covers event-loop lag on a busy machine.
 */
const STALE_ALLOW_MS = HEARTBEAT_MS + REDIS_TIMEOUT_MS;
const SLACK_MS = 250;
/**
 * Longest ipgate may take to decide, by its own clock (REDIS_TIMEOUT_MS and the time to
 * answer): a bucket bound of ipgate_decision_duration_seconds.
 */
const DECIDE_WITHIN = '0.1';
// As the load loops see it, queueing on the shared cores included: a generous ceiling that
// still tells an answer from a hang on a busy machine.
const NO_HANG_MS = 1000;
const RECOVERY_MS = 1000;

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(redisArgs: string[]): Promise<{ redis: RedisServer; ipgate: IpgateProcess }> {
  const redis = await RedisServer.start(redisArgs);
  cleanups.push(() => redis.destroy());
  const ipgate = await spawnIpgate({
    REDIS_URL: redis.url,
    WEBHOOK_SECRET: SECRET,
    STATIC_CIDRS: '192.0.2.0/24',
  });
  cleanups.push(async () => {
    if (ipgate.child.exitCode === null) ipgate.child.kill('SIGKILL');
    await ipgate.exited;
  });
  await ipgate.waitForLog('keyspace notifications on');
  expect((await login(ipgate, GRANTED)).status).toBe(200);
  await until(async () => (await verify(ipgate, GRANTED)).status === 200);
  return { redis, ipgate };
}

function verify(ipgate: IpgateProcess, ip: string) {
  return request(`${ipgate.url}/verify`, { headers: [['X-Forwarded-For', ip]] });
}

function login(ipgate: IpgateProcess, clientIp: string) {
  return request(`${ipgate.url}/authentik/webhook`, {
    method: 'POST',
    headers: [['Authorization', `Bearer ${SECRET}`]],
    body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login' }),
  });
}

async function readiness(ipgate: IpgateProcess): Promise<number> {
  return (await request(`${ipgate.url}/readyz`)).status;
}

/** Polls until `check` holds; returns how long that took, in ms. */
async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type GrantState = 'granted' | 'gone' | 'unavailable';

interface Fault {
  readonly redisArgs: string[];
  /** Breaks Redis; resolves once it is broken. */
  inject(redis: RedisServer): Promise<void>;
  /** Mends Redis; resolves once it answers again. */
  restore(redis: RedisServer): Promise<void>;
  /** Whether Redis stops answering at some point (so 503 is a right answer). */
  readonly outage: boolean;
  /** What ipgate can know of the grant made before the fault, during it and after. */
  readonly during: GrantState;
  readonly after: 'granted' | 'gone';
  /** What `/readyz` and the webhook answer during the fault. */
  readonly readyDuring: 200 | 503;
  readonly webhookDuring: 200 | 503;
}

/**
 * Runs `/verify` load through a fault and checks every answer: static always 200, the
 * stranger never 200, the granted address 200 only while it can be verified (or for the
 * stale-allow bound after Redis stops answering), every decision within 100 ms by ipgate's
 * own clock and every answer within NO_HANG_MS as the loops see it, the
 * webhook 503 during the fault and 200 when retried, recovery within RECOVERY_MS.
 */
async function runFault(name: string, fault: Fault): Promise<void> {
  const { redis, ipgate } = await setUp(fault.redisArgs);
  // Fsync of the append-only file happens every second (compose's setting).
  if (fault.redisArgs.includes('--appendonly')) await pause(1100);
  const load = new VerifyLoad(ipgate.url, [STATIC_IP, GRANTED, STRANGER], { maxMs: 15_000 });
  await pause(300);

  const faultAt = performance.now();
  await fault.inject(redis);
  await pause(STALE_ALLOW_MS + SLACK_MS);
  const readyDuringFault = await readiness(ipgate);
  const webhookDuringFault = await login(ipgate, LATE);
  await pause(700);

  const mendingAt = performance.now();
  await fault.restore(redis);
  const backAt = performance.now();
  const readyAfter = await until(async () => (await readiness(ipgate)) === 200);
  // Authentik retries a 503; here the retry is immediate and repeated until it succeeds.
  const retried = await until(async () => (await login(ipgate, LATE)).status === 200);
  const lateAllowed = await until(async () => (await verify(ipgate, LATE)).status === 200);
  await pause(300);
  await load.stop();
  const timed = decisionsSlowerThan(await scrapeMetrics(ipgate.url), DECIDE_WITHIN);

  const during = load.samples.filter((s) => s.sent >= faultAt && s.sent < backAt);
  const after = load.samples.filter((s) => s.sent >= backAt);
  const last503 = after.filter((s) => s.status === 503).at(-1);
  const recoveryMs = last503 === undefined ? 0 : last503.sent + last503.ms - backAt;
  // The last allow for the granted address answered before Redis was mended.
  const lastAllow = during
    .filter((s) => s.ip === GRANTED && s.status === 200 && s.sent + s.ms < mendingAt)
    .at(-1);
  const staleAllowMs = lastAllow === undefined ? 0 : lastAllow.sent + lastAllow.ms - faultAt;
  console.info(
    JSON.stringify({
      fault: name,
      verifyMs: latencies(load.samples),
      decisionsOver100Ms: `${timed.slower} of ${timed.total}`,
      duringFault: latencies(during),
      lastAllowAfterFaultMs: Math.round(staleAllowMs),
      readyAfterMs: Math.round(readyAfter),
      recoveryMs: Math.round(recoveryMs),
      webhookRetryMs: Math.round(retried),
      newGrantMs: Math.round(lateAllowed),
    }),
  );

  // Every request answered, quickly, with a status its address may get.
  expect(load.samples.length).toBeGreaterThan(100);
  expect(load.samples.filter((s) => typeof s.status !== 'number')).toEqual([]);
  expect(Math.max(...load.samples.map((s) => s.ms))).toBeLessThan(NO_HANG_MS);
  expect(timed.total).toBeGreaterThanOrEqual(load.samples.length);
  expect(timed.slower).toBe(0);
  expect(unexpected(load.samples, faultAt, { mendingAt, backAt }, fault)).toEqual([]);
  expect(recoveryMs).toBeLessThan(RECOVERY_MS);
  expect(readyAfter).toBeLessThan(RECOVERY_MS);

  // The webhook asked Authentik to retry, and the retry stored the login.
  expect(webhookDuringFault.status).toBe(fault.webhookDuring);
  expect(readyDuringFault).toBe(fault.readyDuring);
  expect((await verify(ipgate, GRANTED)).status).toBe(fault.after === 'granted' ? 200 : 403);
  expect(ipgate.child.exitCode).toBeNull();
  expect(ipgate.lines.filter((line) => line.level === 'error' || line.level === 'fatal')).toEqual(
    [],
  );
}

const STATUS: Record<GrantState, number> = { granted: 200, gone: 403, unavailable: 503 };

function unexpected(
  samples: Sample[],
  faultAt: number,
  mend: { mendingAt: number; backAt: number },
  fault: Fault,
): Sample[] {
  return samples.filter((s) => {
    if (s.ip === STATIC_IP) return s.status !== 200;
    if (s.status === 503) return !fault.outage || s.sent < faultAt;
    if (s.ip === STRANGER) return s.status !== 403;
    // The granted address. A cached allow may outlive the fault's start by the bound.
    if (s.sent < faultAt) return s.status !== 200;
    if (s.status === 200 && s.sent < faultAt + STALE_ALLOW_MS + SLACK_MS) return false;
    // Judged when answered: a lookup sent during a pause may be answered after SIGCONT,
    // and ipgate may reach a restarted Redis before the helper's own PING does.
    const answered = s.sent + s.ms;
    const during = s.status === STATUS[fault.during];
    const after = s.status === STATUS[fault.after];
    if (answered < mend.mendingAt) return !during;
    return answered < mend.backAt ? !(during || after) : !after;
  });
}

describe('ipgate under load while Redis fails', () => {
  it('survives Redis being killed (SIGKILL) and restarted empty', async () => {
    await runFault('killed', {
      redisArgs: [],
      inject: (redis) => redis.kill(),
      restore: (redis) => redis.launch(),
      outage: true,
      during: 'unavailable',
      after: 'gone',
      readyDuring: 503,
      webhookDuring: 503,
    });
  });

  it('survives Redis hanging (SIGSTOP) and resuming (SIGCONT)', async () => {
    await runFault('paused', {
      redisArgs: [],
      inject: async (redis) => redis.signal('SIGSTOP'),
      restore: async (redis) => redis.signal('SIGCONT'),
      outage: true,
      during: 'unavailable',
      after: 'granted',
      readyDuring: 503,
      webhookDuring: 503,
    });
  });

  it('never serves a grant Redis lost in a quick restart (SIGTERM, started empty)', async () => {
    await runFault('restarted empty', {
      redisArgs: [],
      inject: async (redis) => {
        await redis.stop();
        await redis.launch();
      },
      restore: async () => {},
      outage: true,
      during: 'gone',
      after: 'gone',
      readyDuring: 200,
      webhookDuring: 200,
    });
  });

  it('keeps grants across a kill and restart with the append-only file', async () => {
    const args = ['--appendonly', 'yes'];
    await runFault('restarted with AOF', {
      redisArgs: args,
      inject: (redis) => redis.kill(),
      restore: (redis) => redis.launch(args),
      outage: true,
      during: 'unavailable',
      after: 'granted',
      readyDuring: 503,
      webhookDuring: 503,
    });
  });

  it('keeps deciding while Redis refuses writes (maxmemory, noeviction)', async () => {
    await runFault('refusing writes', {
      redisArgs: ['--maxmemory-policy', 'noeviction'],
      inject: async (redis) => {
        const client = redis.client();
        await client.config('SET', 'maxmemory', '1');
        client.disconnect();
      },
      restore: async (redis) => {
        const client = redis.client();
        await client.config('SET', 'maxmemory', '0');
        client.disconnect();
      },
      outage: false,
      during: 'granted',
      after: 'granted',
      // Not ready, since logins cannot be recorded; every existing grant still decides.
      readyDuring: 503,
      webhookDuring: 503,
    });
  });
});
