import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import { GrantStore } from '../src/grant-store.js';
import { createLogger } from '../src/logger.js';
import { createRedisClient } from '../src/redis.js';
import { RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let store: GrantStore;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = createRedisClient(server.url, createLogger('silent'));
  await new Promise((resolve) => redis.once('ready', resolve));
  store = new GrantStore(redis, 'test:');
});

afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

beforeEach(async () => {
  await redis.flushall();
});

const HOUR = 3_600_000;

describe('GrantStore', () => {
  it('names keys <prefix>ip:<grant>', () => {
    expect(store.key('2001:db8:1:2::/64')).toBe('test:ip:2001:db8:1:2::/64');
  });

  it('stores a readable JSON record that expires at the given time', async () => {
    const expiresAt = Date.now() + HOUR;
    const outcome = await store.put(
      '198.51.100.7',
      { user: 'alice', eventId: 'e1', loginAt: '2026-09-10T08:15:42.123Z' },
      expiresAt,
    );
    expect(outcome).toEqual({ status: 'stored', expiresAt: new Date(expiresAt) });
    expect(await redis.get('test:ip:198.51.100.7')).toBe(
      '{"user":"alice","event_id":"e1","login_at":"2026-09-10T08:15:42.123Z"}',
    );
    expect(await redis.pexpiretime('test:ip:198.51.100.7')).toBe(expiresAt);
    expect(await store.find('198.51.100.7')).toEqual({
      user: 'alice',
      eventId: 'e1',
      loginAt: '2026-09-10T08:15:42.123Z',
    });
  });

  it('extends a grant when a later login arrives', async () => {
    const first = Date.now() + HOUR;
    await store.put('198.51.100.7', { user: 'alice', eventId: 'e1' }, first);
    const outcome = await store.put('198.51.100.7', { user: 'alice', eventId: 'e2' }, first + HOUR);
    expect(outcome).toEqual({ status: 'stored', expiresAt: new Date(first + HOUR) });
    expect(await store.find('198.51.100.7')).toEqual({ user: 'alice', eventId: 'e2' });
  });

  it('never shortens a grant when an older event arrives late', async () => {
    const longer = Date.now() + 2 * HOUR;
    await store.put('198.51.100.7', { user: 'alice', eventId: 'new' }, longer);
    const outcome = await store.put('198.51.100.7', { user: 'bob', eventId: 'old' }, longer - HOUR);
    expect(outcome).toEqual({ status: 'kept', expiresAt: new Date(longer) });
    expect(await store.find('198.51.100.7')).toEqual({ user: 'alice', eventId: 'new' });
    expect(await redis.pexpiretime('test:ip:198.51.100.7')).toBe(longer);
  });

  it('leaves a grant without TTL (set by hand) alone', async () => {
    await redis.set('test:ip:198.51.100.7', '{"user":"admin"}');
    const outcome = await store.put('198.51.100.7', { user: 'alice' }, Date.now() + HOUR);
    expect(outcome).toEqual({ status: 'kept', expiresAt: null });
    expect(await redis.pttl('test:ip:198.51.100.7')).toBe(-1);
  });

  it('writes nothing for a grant whose end has passed', async () => {
    expect(await store.put('198.51.100.7', { user: 'alice' }, Date.now() - 1000)).toEqual({
      status: 'expired',
    });
    expect(await redis.dbsize()).toBe(0);
  });

  it('finds nothing once Redis has expired the key', async () => {
    await store.put('198.51.100.7', { user: 'alice' }, Date.now() + 150);
    expect(await store.find('198.51.100.7')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.find('198.51.100.7')).toBeUndefined();
  });

  it.each([
    ['plain text', 'alice', { user: 'alice' }],
    ['a JSON string', '"alice"', { user: 'alice' }],
    ['a number', '1', {}],
    [
      'JSON with foreign and non-string fields',
      '{"user":7,"event_id":"x","__proto__":{"user":"evil"}}',
      { eventId: 'x' },
    ],
  ])('reads a hand-written value holding %s', async (_case, value, record) => {
    await redis.set('test:ip:198.51.100.7', value, 'EX', 60);
    expect(await store.find('198.51.100.7')).toEqual(record);
  });

  it('fails with StoreUnavailableError when Redis cannot be reached', async () => {
    const offline = createRedisClient('redis://127.0.0.1:1', createLogger('silent'));
    try {
      const failing = new GrantStore(offline, 'test:');
      await expect(failing.find('198.51.100.7')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(failing.put('198.51.100.7', {}, Date.now() + HOUR)).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      });
      await expect(failing.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      offline.disconnect();
    }
  });
});

describe('GrantStore audit trail', () => {
  async function audit(): Promise<Record<string, string>[]> {
    const entries = (await store.auditTrail(50)).reverse();
    return entries.map((entry) => ({ ...entry.fields }));
  }

  it('records a grant, a refresh, and nothing for a kept grant, in the same round trip', async () => {
    const end = Date.now() + HOUR;
    await store.put('198.51.100.7', { user: 'alice', eventId: 'e1' }, end, {
      source: 'webhook',
      ip: '198.51.100.7',
    });
    await store.put('198.51.100.7', { user: 'alice', eventId: 'e2' }, end + HOUR);
    await store.put('198.51.100.7', { user: 'alice', eventId: 'old' }, end);

    expect(await audit()).toEqual([
      {
        action: 'grant',
        grant: '198.51.100.7',
        user: 'alice',
        event_id: 'e1',
        ip: '198.51.100.7',
        source: 'webhook',
        expires_at: new Date(end).toISOString(),
      },
      {
        action: 'refresh',
        grant: '198.51.100.7',
        user: 'alice',
        event_id: 'e2',
        ip: '',
        source: 'webhook',
        expires_at: new Date(end + HOUR).toISOString(),
      },
    ]);
  });

  it('records a revoke with the user the grant had, and nothing for a missing grant', async () => {
    await redis.set('test:ip:198.51.100.7', '{"user":"bob","event_id":"e9"}', 'EX', 60);
    await redis.set('test:ip:198.51.100.8', 'carol', 'EX', 60);
    expect(await store.revoke('198.51.100.7', { source: 'cli' })).toEqual({
      user: 'bob',
      eventId: 'e9',
    });
    await store.revoke('198.51.100.8', { source: 'admin' });
    expect(await store.revoke('198.51.100.9', { source: 'admin' })).toBeUndefined();

    expect(await audit()).toEqual([
      { action: 'revoke', grant: '198.51.100.7', user: 'bob', event_id: 'e9', source: 'cli' },
      { action: 'revoke', grant: '198.51.100.8', user: 'carol', event_id: '', source: 'admin' },
    ]);
  });

  it('stores the grant even when the audit stream cannot be written', async () => {
    await redis.set('test:audit', 'not a stream');
    const outcome = await store.put('198.51.100.7', { user: 'alice' }, Date.now() + HOUR);
    expect(outcome.status).toBe('stored');
    expect(await store.find('198.51.100.7')).toEqual({ user: 'alice' });
    expect(await store.revoke('198.51.100.7', { source: 'admin' })).toEqual({ user: 'alice' });
  });

  it('keeps the stream capped near 10,000 entries', async () => {
    for (let batch = 0; batch < 11; batch++) {
      const pipeline = redis.pipeline();
      for (let index = 0; index < 1000; index++) {
        pipeline.xadd('test:audit', '*', 'action', 'seed');
      }
      await pipeline.exec();
    }
    expect(await redis.xlen('test:audit')).toBe(11_000);
    await store.put('198.51.100.7', { user: 'alice' }, Date.now() + HOUR);
    const length = await redis.xlen('test:audit');
    expect(length).toBeGreaterThanOrEqual(10_000);
    expect(length).toBeLessThan(10_200);
  });
});
