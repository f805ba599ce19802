import type { RedisServer } from '../helpers/redis-server.js';
import type { BenchOptions } from './options.js';
import { warm } from './pairs.js';
import { type BenchProcess, startIpgateProcess } from './processes.js';
import { measurePropagation, type PropagationResult } from './replicas.js';

type Log = (message: string) => void;

// Long enough for a webhook to write a grant that ends 1.5 s later (see expiryTrial).
const GRANT_TTL_SECONDS = 60;

/**
 * Two ipgate replicas sharing the run's Redis, with keyspace notifications (the default,
 * `auto`), then two more with `REDIS_KEYSPACE_EVENTS=off`, which rely on grant
 * announcements and the 750 ms fallback lifetime alone.
 */
export async function measureReplicas(
  redis: RedisServer,
  options: BenchOptions,
  log: Log,
): Promise<{ auto: PropagationResult; off: PropagationResult }> {
  const client = redis.client();
  try {
    log(`two replicas, keyspace notifications on: ${options.loginTrials} login trials`);
    const auto = await withReplicas(redis.url, 'auto', options, (replicas) =>
      measurePropagation({
        replicas,
        redis: client,
        grantTtlMs: GRANT_TTL_SECONDS * 1000,
        loginTrials: options.loginTrials,
        changeTrials: options.changeTrials,
        parallel: 10,
        firstClient: 0,
      }),
    );
    log(`two replicas, REDIS_KEYSPACE_EVENTS=off: ${options.loginTrials} login trials`);
    const off = await withReplicas(redis.url, 'off', options, (replicas) =>
      measurePropagation({
        replicas,
        redis: client,
        grantTtlMs: GRANT_TTL_SECONDS * 1000,
        loginTrials: options.loginTrials,
        changeTrials: options.changeTrials,
        parallel: 10,
        firstClient: 20_000,
      }),
    );
    return { auto, off };
  } finally {
    client.disconnect();
  }
}

type Replicas = [BenchProcess, BenchProcess];

// Each replica gets the same warm-up as every other server, on a client without a grant.
async function withReplicas<T>(
  redisUrl: string,
  keyspace: 'auto' | 'off',
  options: BenchOptions,
  measure: (replicas: Replicas) => Promise<T>,
): Promise<T> {
  const env = {
    REDIS_URL: redisUrl,
    GRANT_TTL: `${GRANT_TTL_SECONDS}s`,
    REDIS_KEYSPACE_EVENTS: keyspace,
  };
  const shape = { seconds: options.warmupSeconds, connections: options.connections, rounds: 1 };
  const started: BenchProcess[] = [];
  try {
    for (const name of ['replica 1', 'replica 2']) {
      const replica = await startIpgateProcess(`${name} (${keyspace})`, env);
      started.push(replica);
      const side = { label: name, url: `${replica.url}/verify` };
      await warm({ ...side, headers: { 'X-Forwarded-For': '192.0.2.99' } }, shape);
    }
    return await measure(started as Replicas);
  } finally {
    for (const replica of started) await replica.stop();
  }
}
