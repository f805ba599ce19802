import { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { createThrottle } from './throttle.js';

/** Longest wait for any Redis command, in ms; past it a decision answers 503. */
export const REDIS_TIMEOUT_MS = 100;

/** Longest pause between reconnection attempts, in ms. */
export const MAX_RECONNECT_DELAY_MS = 500;

/**
 * Opens the Redis connection ipgate uses for everything. Commands fail at once while it is
 * down (no offline queue, no replay after a reconnect) and time out after
 * {@link REDIS_TIMEOUT_MS}, so a missing Redis turns into a quick 503, never a hang.
 * It reconnects by itself forever, and logs when it is lost and when it is back.
 */
export function createRedisClient(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    commandTimeout: REDIS_TIMEOUT_MS,
    connectTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The ready check needs INFO, which a narrow ACL user may lack; ioredis would then
    // print a plain-text warning outside the JSON log.
    enableReadyCheck: false,
    retryStrategy: (attempt) => Math.min(attempt * 50, MAX_RECONNECT_DELAY_MS),
  });
  watchConnection(redis, logger);
  return redis;
}

function watchConnection(redis: Redis, logger: Logger): void {
  const shouldLog = createThrottle(30_000);
  let connected = false;
  let everConnected = false;

  redis.on('ready', () => {
    logger.info(everConnected ? 'redis connection restored' : 'redis connected');
    connected = true;
    everConnected = true;
  });
  redis.on('close', () => {
    if (connected) logger.info('redis connection lost');
    connected = false;
  });
  redis.on('error', (error: Error) => {
    if (shouldLog(error.message)) logger.warn({ err: error }, 'redis error');
  });
}
