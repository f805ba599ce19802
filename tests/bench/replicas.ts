import type { Redis } from 'ioredis';
import { type BenchProcess, login, verifyStatus } from './processes.js';
import { percentile } from './stats.js';

/** How long each kind of change took to reach the replicas, in ms. */
export interface PropagationResult {
  /** Webhook sent to one replica → the other allows (one value per trial). */
  readonly loginMs: readonly number[];
  /** `DEL` of the grant's key → both deny. */
  readonly revokeMs: readonly number[];
  /** The grant's end (Redis TTL) → both deny. */
  readonly expiryMs: readonly number[];
}

// Every trial gives up after this long, so a broken cache cannot hang the benchmark.
const GIVE_UP_MS = 5000;

/** Client addresses for trials: 198.18.0.0/15 is set aside for benchmarks (RFC 2544). */
export function benchClient(index: number): string {
  return `198.18.${(index >> 8) & 0xff}.${index & 0xff}`;
}

/**
 * Asks `/verify` until it answers `status`, and resolves with the time the first request
 * so answered was sent (ms): from then on, the replica gives the new answer.
 */
async function until(url: string, client: string, status: number, pauseMs: number) {
  const deadline = Date.now() + GIVE_UP_MS;
  while (Date.now() < deadline) {
    const sent = performance.now();
    if ((await verifyStatus(url, client)) === status) return sent;
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(`${url} did not answer ${status} for ${client} within ${GIVE_UP_MS} ms`);
}

/**
 * Logs `client` in on `first` while `second` has just cached "no grant" for it, and
 * measures from sending the webhook until `second` allows.
 */
async function loginTrial(first: BenchProcess, second: BenchProcess, client: string) {
  if ((await verifyStatus(second.url, client)) !== 403) throw new Error(`${client} not denied`);
  const sent = performance.now();
  const [, allowed] = await Promise.all([
    login(first.url, client),
    until(second.url, client, 200, 0),
  ]);
  return allowed - sent;
}

/** Grants `client`, lets both replicas cache the allow, `DEL`s the key, times both denials. */
async function revokeTrial(replicas: readonly BenchProcess[], redis: Redis, client: string) {
  await login(replicas[0]?.url ?? '', client);
  for (const replica of replicas) await until(replica.url, client, 200, 0);
  const deleted = performance.now();
  await redis.del(`ipgate:ip:${client}`);
  const denied = await Promise.all(replicas.map((r) => until(r.url, client, 403, 2)));
  return Math.max(...denied) - deleted;
}

/** Logs `client` in so that the grant ends `lifeMs` from now; times both denials after. */
async function expiryTrial(
  replicas: readonly BenchProcess[],
  grantTtlMs: number,
  lifeMs: number,
  client: string,
) {
  const endsAt = await login(replicas[0]?.url ?? '', client, grantTtlMs - lifeMs);
  for (const replica of replicas) await until(replica.url, client, 200, 0);
  const denied = await Promise.all(replicas.map((r) => until(r.url, client, 403, 2)));
  // The grant's end is in epoch ms; move the denials onto that clock.
  return Math.max(...denied) + performance.timeOrigin - endsAt;
}

/**
 * The three propagation measurements between two replicas sharing one Redis. Login
 * trials run one after another; revoke and expiry trials run `parallel` at a time.
 */
export async function measurePropagation(options: {
  replicas: readonly [BenchProcess, BenchProcess];
  redis: Redis;
  grantTtlMs: number;
  loginTrials: number;
  changeTrials: number;
  parallel: number;
  firstClient: number;
}): Promise<PropagationResult> {
  const [a, b] = options.replicas;
  let next = options.firstClient;

  const loginMs: number[] = [];
  for (let trial = 0; trial < options.loginTrials; trial++) {
    const [from, to] = trial % 2 === 0 ? [a, b] : [b, a];
    loginMs.push(await loginTrial(from, to, benchClient(next++)));
  }

  const revokeMs = await inBatches(options.changeTrials, options.parallel, () =>
    revokeTrial(options.replicas, options.redis, benchClient(next++)),
  );
  const expiryMs = await inBatches(options.changeTrials, options.parallel, () =>
    expiryTrial(options.replicas, options.grantTtlMs, 1500, benchClient(next++)),
  );
  return { loginMs, revokeMs, expiryMs };
}

async function inBatches(
  count: number,
  parallel: number,
  trial: () => Promise<number>,
): Promise<number[]> {
  const results: number[] = [];
  while (results.length < count) {
    const size = Math.min(parallel, count - results.length);
    results.push(...(await Promise.all(Array.from({ length: size }, trial))));
  }
  return results;
}

/** p50, p99 and max of a list of times. */
export function spread(values: readonly number[]) {
  return {
    p50: percentile(values, 0.5),
    p99: percentile(values, 0.99),
    max: Math.max(...values),
  };
}
