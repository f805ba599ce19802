import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../src/app.js';
import { openBackend } from '../../src/backend.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServer, type ServerLimits } from '../../src/server.js';
import { RedisServer } from './redis-server.js';

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
  readonly server: Server;
  readonly logs: LogCapture;
  readonly redis: Redis;
  /** Empties Redis and the decision cache (FLUSHALL produces no keyspace events). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs ipgate in this process on a real loopback socket, configured from `env` exactly as
 * the service reads its environment, with a clock tests may replace.
 */
export async function startIpgate(
  env: Record<string, string>,
  options: { now?: () => number; limits?: ServerLimits } = {},
): Promise<TestIpgate> {
  const config = parseConfig({ LOG_LEVEL: 'debug', ...env });
  const logs = new LogCapture();
  const logger = createLogger(config.logLevel, logs);
  const backend = openBackend(config, logger);
  const { redis } = backend;
  const app = createApp(config, {
    ...backend,
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  const server = createServer(app, options.limits);

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Wait (a while) for Redis and the grant-change subscription; a test may also start
  // ipgate against a Redis that is down on purpose.
  const connected = async (waitMs: number) => {
    const deadline = Date.now() + waitMs;
    while (!(redis.status === 'ready' && backend.events.live) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  await connected(2000);

  return {
    url: `http://127.0.0.1:${port}`,
    server,
    logs,
    redis,
    async reset() {
      // A test that restarted Redis leaves ipgate reconnecting (up to 500 ms between tries).
      await connected(3000);
      await redis.flushall();
      backend.cache.clear();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await backend.close('disconnect');
    },
  };
}

/** A webhook secret long enough for the configuration to accept it. */
export const SECRET = 'test-secret-0123456789abcdef';

/** A private redis-server and an ipgate on it, shared by one test file. */
export interface RunningIpgate {
  readonly redis: RedisServer;
  readonly ipgate: TestIpgate;
}

/**
 * Starts a private redis-server and an in-process ipgate configured from `env` before the
 * file's tests, and stops both after them.
 */
export function useIpgate(env: Record<string, string>): RunningIpgate {
  const running = {} as { redis: RedisServer; ipgate: TestIpgate };
  beforeAll(async () => {
    running.redis = await RedisServer.start();
    running.ipgate = await startIpgate({ REDIS_URL: running.redis.url, ...env });
  });
  afterAll(async () => {
    await running.ipgate?.close();
    await running.redis?.destroy();
  });
  return running;
}
