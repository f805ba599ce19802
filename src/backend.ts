import type { Redis } from 'ioredis';
import { CachedGrants } from './cached-grants.js';
import type { Config } from './config.js';
import { GrantCache } from './grant-cache.js';
import { GrantEvents } from './grant-events.js';
import { GrantStore } from './grant-store.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { createRedisClient } from './redis.js';

/** Everything ipgate keeps in or learns from Redis, ready for {@link createApp}. */
export interface Backend {
  readonly redis: Redis;
  readonly store: GrantStore;
  readonly cache: GrantCache;
  readonly events: GrantEvents;
  readonly grants: CachedGrants;
  readonly metrics: Metrics;
  /** Closes both Redis connections, politely (QUIT) or at once. */
  close(mode: 'quit' | 'disconnect'): Promise<void>;
}

/**
 * Opens the two Redis connections ipgate needs: one for commands, one subscribed to grant
 * changes. Both reconnect by themselves; see {@link createRedisClient}.
 */
export function openBackend(config: Config, logger: Logger, metrics = new Metrics()): Backend {
  const redis = createRedisClient(config.redisUrl, logger);
  const subscriber = createRedisClient(config.redisUrl, logger.child({ connection: 'events' }));
  const store = new GrantStore(redis, config.redisPrefix, () => metrics.redisErrors.inc());
  const cache = new GrantCache(config.cacheSize);
  const events = new GrantEvents({
    subscriber,
    client: redis,
    prefix: config.redisPrefix,
    cache,
    logger,
    useKeyspace: config.keyspaceEvents,
  });
  const grants = new CachedGrants(store, cache, events, config.cacheTtlSeconds * 1000);

  for (const client of [redis, subscriber]) client.on('error', () => metrics.redisErrors.inc());
  const ready = (client: Redis) => (client.status === 'ready' ? 1 : 0);
  metrics.state(
    'ipgate_redis_connected',
    '1 while the Redis connection is ready: commands (grants) or events (cache announcements)',
    () => ({ commands: ready(redis), events: ready(subscriber) }),
    'connection',
  );
  metrics.state('ipgate_cache_entries', 'answers held in the decision cache', () => cache.size);
  metrics.state(
    'ipgate_cache_live',
    '1 while grant changes are heard, so decisions may be cached',
    () => (events.live ? 1 : 0),
  );

  return {
    redis,
    store,
    cache,
    events,
    grants,
    metrics,
    async close(mode) {
      if (mode === 'disconnect') {
        subscriber.disconnect();
        redis.disconnect();
        return;
      }
      await Promise.allSettled([subscriber.quit(), redis.quit()]);
    },
  };
}
