import type { RedisServer } from '../helpers/redis-server.js';
import type { BenchOptions } from './options.js';
import { startIpgateProcess } from './processes.js';
import { measurePropagation, type PropagationResult } from './replicas.js';

type Log = (message: string) => void;

// Long enough for a webhook to write a grant that ends 1.5 s later (see expiryTrial).
const GRANT_TTL_SECONDS = 60;

/**
 * Two ipgate replicas sharing the run's Redis, with keyspace notifications (the default,
 * `auto`), then two more with `REDIS_KEYSPACE_EVENTS=off`, which rely on grant
 * announcements and the 1 s fallback lifetime alone.
 */
export async function measureReplicas(
  redis: RedisServer,
  options: BenchOptions,
  log: Log,
): Promise<{ auto: PropagationResult; off: PropagationResult }> {
  const client = redis.client();
  try {
    log(`two replicas, keyspace notifications on: ${options.loginTrials} login trials`);
    const auto = await withReplicas(redis.url, 'auto', (replicas) =>
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
    const off = await withReplicas(redis.url, 'off', (replicas) =>
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

async function withReplicas<T>(
  redisUrl: string,
  keyspace: 'auto' | 'off',
  measure: (
    replicas: [
      Awaited<ReturnType<typeof startIpgateProcess>>,
      Awaited<ReturnType<typeof startIpgateProcess>>,
    ],
  ) => Promise<T>,
): Promise<T> {
  const env = {
    REDIS_URL: redisUrl,
    GRANT_TTL: `${GRANT_TTL_SECONDS}s`,
    REDIS_KEYSPACE_EVENTS: keyspace,
  };
  const first = await startIpgateProcess(`replica 1 (${keyspace})`, env);
  try {
    const second = await startIpgateProcess(`replica 2 (${keyspace})`, env);
    try {
      return await measure([first, second]);
    } finally {
      await second.stop();
    }
  } finally {
    await first.stop();
  }
}
