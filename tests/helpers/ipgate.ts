import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
import { GrantStore } from '../../src/grant-store.js';
import { createLogger } from '../../src/logger.js';
import { createRedisClient } from '../../src/redis.js';
import { createServer } from '../../src/server.js';

/** Log lines captured from a logger, parsed. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }

  /** Lines whose `msg` is exactly `message`. */
  withMessage(message: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.msg === message);
  }
}

export interface TestIpgate {
  readonly url: string;
  readonly logs: LogCapture;
  readonly redis: Redis;
  close(): Promise<void>;
}

/**
 * Runs ipgate in this process on a real loopback socket, configured from `env` exactly as
 * the service reads its environment, with a clock tests may replace.
 */
export async function startIpgate(
  env: Record<string, string>,
  options: { now?: () => number } = {},
): Promise<TestIpgate> {
  const config = parseConfig({ LOG_LEVEL: 'debug', ...env });
  const logs = new LogCapture();
  const logger = createLogger(config.logLevel, logs);
  const redis = createRedisClient(config.redisUrl, logger);
  const store = new GrantStore(redis, config.redisPrefix);
  const app = createApp(config, { store, logger, ...(options.now ? { now: options.now } : {}) });
  const server = createServer(app);

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    if (redis.status === 'ready') resolve();
    redis.once('ready', resolve);
    setTimeout(resolve, 2000);
  });

  return {
    url: `http://127.0.0.1:${port}`,
    logs,
    redis,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      redis.disconnect();
    },
  };
}

/** A webhook secret long enough for the configuration to accept it. */
export const SECRET = 'test-secret-0123456789abcdef';
