import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { createRedisClient, REDIS_TIMEOUT_MS, RedisTimeoutError } from '../src/redis.js';
import { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server.destroy();
});
afterEach(() => {
  server.signal('SIGCONT');
  client.disconnect();
});

async function connected(): Promise<Redis> {
  client = createRedisClient(server.url, createLogger('silent'));
  await new Promise((resolve) => client.once('ready', resolve));
  return client;
}

// Keeps the event loop from running anything else for `ms`, as a burst of work would.
function blockEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe('the Redis command bound', () => {
  it(`fails a command that Redis does not answer within ${REDIS_TIMEOUT_MS} ms`, async () => {
    const redis = await connected();
    server.signal('SIGSTOP');
    const started = performance.now();
    const error = await redis.ping().catch((caught: unknown) => caught);
    const waited = performance.now() - started;

    expect(error).toBeInstanceOf(RedisTimeoutError);
    expect((error as Error).message).toBe(`Redis did not answer within ${REDIS_TIMEOUT_MS} ms`);
    expect(waited).toBeGreaterThanOrEqual(REDIS_TIMEOUT_MS - 1);
    // An answer, not a hang; the ceiling allows for a busy machine.
    expect(waited).toBeLessThan(1000);
  });

  it('keeps an answer that arrived while the event loop was busy past the bound', async () => {
    const redis = await connected();
    // The answer reaches the socket within a millisecond or so, but is only read once the
    // loop is free again, when the command's timer is also overdue.
    const answers = [redis.ping(), redis.get('missing'), redis.eval('return 7', 0)];
    blockEventLoop(REDIS_TIMEOUT_MS * 2);

    await expect(Promise.all(answers)).resolves.toEqual(['PONG', null, 7]);
  });

  it('bounds every command of a pipeline, and answers again once Redis resumes', async () => {
    const redis = await connected();
    server.signal('SIGSTOP');
    const replies = await redis.pipeline().ping().get('missing').exec();
    expect(replies?.map(([error]) => error)).toEqual([
      expect.any(RedisTimeoutError),
      expect.any(RedisTimeoutError),
    ]);

    server.signal('SIGCONT');
    // The late answers to the timed-out commands come first and are matched to them, so
    // the next command still gets its own answer.
    await expect(redis.echo('after')).resolves.toBe('after');
  });
});
