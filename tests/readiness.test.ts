import { rm } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

// /readyz against a real redis-server that answers but refuses writes, one way at a time.
let redis: RedisServer;
let admin: Redis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await RedisServer.start(['--maxmemory-policy', 'noeviction']);
  admin = redis.client();
});
afterAll(async () => {
  admin.disconnect();
  await redis.destroy();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function ipgate(env: Record<string, string> = {}): Promise<TestIpgate> {
  const started = await startIpgate({
    REDIS_URL: redis.url,
    WEBHOOK_SECRET: SECRET,
    STATIC_CIDRS: '192.0.2.0/24',
    ...env,
  });
  cleanups.push(() => started.close());
  return started;
}

async function readiness(gate: TestIpgate): Promise<[number, unknown, string | undefined]> {
  const response = await request(`${gate.url}/readyz`);
  return [response.status, JSON.parse(response.body), String(response.headers['cache-control'])];
}

function login(gate: TestIpgate, clientIp: string) {
  return request(`${gate.url}/authentik/webhook`, {
    method: 'POST',
    headers: [['Authorization', `Bearer ${SECRET}`]],
    body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login' }),
  });
}

function verify(gate: TestIpgate, clientIp: string) {
  return request(`${gate.url}/verify`, { headers: [['X-Forwarded-For', clientIp]] });
}

describe('/readyz while Redis refuses writes', () => {
  it('is ready when Redis answers and accepts writes, and writes nothing', async () => {
    const gate = await ipgate();
    expect(await readiness(gate)).toEqual([200, { status: 'ready' }, 'no-store']);
    expect(await admin.exists('ipgate:readyz-probe')).toBe(0);
  });

  it('reports maxmemory with noeviction, and is ready again once writes are accepted', async () => {
    const gate = await ipgate();
    expect((await login(gate, '198.51.100.7')).status).toBe(200);
    await admin.config('SET', 'maxmemory', '1');
    cleanups.push(() => admin.config('SET', 'maxmemory', '0'));

    expect(await readiness(gate)).toEqual([
      503,
      {
        status: 'unavailable',
        reason: 'redis refuses writes: it is out of memory (maxmemory with noeviction)',
      },
      'no-store',
    ]);
    // What it reports is what a login meets; existing grants still decide.
    expect((await login(gate, '198.51.100.8')).status).toBe(503);
    expect((await verify(gate, '198.51.100.7')).status).toBe(200);
    expect(gate.logs.withMessage('not ready')).toEqual([
      expect.objectContaining({
        level: 'warn',
        reason: 'redis refuses writes: it is out of memory (maxmemory with noeviction)',
      }),
    ]);

    await admin.config('SET', 'maxmemory', '0');
    expect((await readiness(gate))[0]).toBe(200);
    expect((await login(gate, '198.51.100.8')).status).toBe(200);
  });

  it('reports a read-only replica', async () => {
    const primary = await RedisServer.start();
    cleanups.push(() => primary.destroy());
    await admin.replicaof('127.0.0.1', primary.port);
    cleanups.push(() => admin.replicaof('NO', 'ONE'));
    const gate = await ipgate();

    expect(await readiness(gate)).toEqual([
      503,
      { status: 'unavailable', reason: 'redis refuses writes: it is a read-only replica' },
      'no-store',
    ]);
  });

  it('reports writes stopped after a failed save to disk', async () => {
    // A save into a directory that has gone fails, and Redis then stops accepting writes.
    const saving = await RedisServer.start(['--save', '3600 1']);
    // Killed: on SIGTERM it would try to save once more, fail, and refuse to exit.
    cleanups.push(async () => {
      await saving.kill();
      await saving.destroy();
    });
    const client = saving.client();
    cleanups.push(async () => client.disconnect());
    await rm(saving.dir, { recursive: true });
    await client.bgsave();
    for (let i = 0; i < 100; i++) {
      if ((await client.info('persistence')).includes('rdb_last_bgsave_status:err')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const gate = await ipgate({ REDIS_URL: saving.url });

    expect(await readiness(gate)).toEqual([
      503,
      { status: 'unavailable', reason: 'redis refuses writes: its last save to disk failed' },
      'no-store',
    ]);
  });

  it("reports a Redis user that may not write ipgate's keys", async () => {
    await admin.acl(
      'SETUSER',
      'reader',
      'on',
      '>reader-password',
      '~*',
      '&*',
      '+@read',
      '+@connection',
      '+@pubsub',
      '+eval',
      '+config',
    );
    cleanups.push(() => admin.acl('DELUSER', 'reader'));
    const gate = await ipgate({
      REDIS_URL: `redis://reader:reader-password@127.0.0.1:${redis.port}`,
    });

    expect(await readiness(gate)).toEqual([
      503,
      {
        status: 'unavailable',
        reason: "redis refuses writes: the Redis user may not write ipgate's keys",
      },
      'no-store',
    ]);
  });
});
