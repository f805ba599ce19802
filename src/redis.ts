import { type Command, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';
import { createThrottle } from './throttle.js';

/**
 * Longest wait for any Redis command, in ms; past it a decision answers 503. Below 100 ms,
 * so that an answer which needs Redis leaves within 100 ms of the request even when Redis
 * hangs.
 */
export const REDIS_TIMEOUT_MS = 80;

/** Longest pause between reconnection attempts, in ms. */
export const MAX_RECONNECT_DELAY_MS = 500;

/** How a command that Redis did not answer in time fails. */
export class RedisTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * A client whose every command fails after `timeoutMs` without an answer. Unlike ioredis's
 * own `commandTimeout`, a late timer does not fail a command whose answer has already
 * arrived: on a busy event loop the timer and the answer can become due in the same turn,
 * and the timer would run first. The check is deferred to `setImmediate`, which runs after
 * the turn has read its sockets, so only an answer that has not reached ipgate is late.
 */
export class BoundedRedis extends Redis {
  readonly #timeoutMs: number;
  // A command can pass through sendCommand again (a resend); it keeps its first deadline.
  readonly #bounded = new WeakSet<Command>();

  constructor(url: string, options: Omit<RedisOptions, 'replyMapping'>, timeoutMs: number) {
    super(url, options);
    this.#timeoutMs = timeoutMs;
  }

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    const result = super.sendCommand(...args);
    const [command] = args;
    if (!command.isSettled && !this.#bounded.has(command)) {
      this.#bounded.add(command);
      bound(command, this.#timeoutMs);
    }
    return result;
  }
}

function bound(command: Command, timeoutMs: number): void {
  const expire = () => {
    if (!command.isSettled) command.reject(new RedisTimeoutError(timeoutMs));
  };
  const timer = setTimeout(() => setImmediate(expire), timeoutMs);
  const settled = () => clearTimeout(timer);
  command.promise.then(settled, settled);
}

/**
 * Opens the Redis connection ipgate uses for everything. Commands fail at once while it is
 * down (no offline queue, no replay after a reconnect) and time out after
 * {@link REDIS_TIMEOUT_MS} ({@link BoundedRedis}), so a missing Redis turns into a quick
 * 503, never a hang.
 * It reconnects by itself forever, and logs when it is lost and when it is back.
 */
export function createRedisClient(url: string, logger: Logger): Redis {
  const options = {
    connectTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The ready check needs INFO, which a narrow ACL user may lack; ioredis would then
    // print a plain-text warning outside the JSON log.
    enableReadyCheck: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 50, MAX_RECONNECT_DELAY_MS),
  };
  const redis = new BoundedRedis(url, options, REDIS_TIMEOUT_MS);
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
