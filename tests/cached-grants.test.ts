import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_CACHE_MS } from '../src/cached-grants.js';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

let redis: RedisServer;
const running: TestIpgate[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterEach(async () => {
  for (const ipgate of running.splice(0)) await ipgate.close();
  const client = redis.client();
  await client.flushall();
  await client.config('SET', 'notify-keyspace-events', '');
  client.disconnect();
});

afterAll(async () => {
  await redis.destroy();
});

async function replica(env: Record<string, string> = {}): Promise<TestIpgate> {
  const ipgate = await startIpgate({ REDIS_URL: redis.url, WEBHOOK_SECRET: SECRET, ...env });
  running.push(ipgate);
  return ipgate;
}

async function status(ipgate: TestIpgate, clientIp: string): Promise<number> {
  const response = await request(`${ipgate.url}/verify`, {
    headers: [['X-Forwarded-For', clientIp]],
  });
  return response.status;
}

async function login(ipgate: TestIpgate, clientIp: string): Promise<void> {
  const response = await request(`${ipgate.url}/authentik/webhook`, {
    method: 'POST',
    headers: [['Authorization', `Bearer ${SECRET}`]],
    body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login' }),
  });
  expect(response.status).toBe(200);
}

/** Polls until the replica answers `expected`; returns how long that took, in ms. */
async function until(ipgate: TestIpgate, clientIp: string, expected: number): Promise<number> {
  const started = Date.now();
  while ((await status(ipgate, clientIp)) !== expected) {
    if (Date.now() - started > 5000) throw new Error(`${clientIp} never answered ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

async function lookups(): Promise<number> {
  const client = redis.client();
  const stats = await client.info('commandstats');
  client.disconnect();
  return Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('decision cache', () => {
  it('answers repeated requests for one address from memory', async () => {
    const ipgate = await replica();
    await login(ipgate, '198.51.100.7');
    const before = await lookups();
    for (let i = 0; i < 20; i++) expect(await status(ipgate, '198.51.100.7')).toBe(200);
    for (let i = 0; i < 20; i++) expect(await status(ipgate, '198.51.100.8')).toBe(403);
    expect((await lookups()) - before).toBe(2);
  });

  it('asks Redis every time when CACHE_SIZE is 0', async () => {
    const ipgate = await replica({ CACHE_SIZE: '0' });
    const before = await lookups();
    for (let i = 0; i < 5; i++) await status(ipgate, '198.51.100.8');
    expect((await lookups()) - before).toBe(5);
  });

  it('lets a login on one replica allow on another that had cached a denial', async () => {
    const [a, b] = [await replica(), await replica()];
    expect(await status(b, '198.51.100.7')).toBe(403);
    await login(a, '198.51.100.7');
    expect(await until(b, '198.51.100.7', 200)).toBeLessThan(FALLBACK_CACHE_MS);
  });

  it('denies on every replica soon after redis-cli DEL, with keyspace notifications', async () => {
    const [a, b] = [await replica(), await replica()];
    await login(a, '198.51.100.7');
    expect([await status(a, '198.51.100.7'), await status(b, '198.51.100.7')]).toEqual([200, 200]);

    const client = redis.client();
    await client.del('ipgate:ip:198.51.100.7');
    client.disconnect();
    expect(await until(a, '198.51.100.7', 403)).toBeLessThan(FALLBACK_CACHE_MS);
    expect(await until(b, '198.51.100.7', 403)).toBeLessThan(FALLBACK_CACHE_MS);
  });

  it('allows soon after redis-cli SET, with keyspace notifications', async () => {
    const ipgate = await replica({ CACHE_TTL: '1h' });
    expect(await status(ipgate, '198.51.100.7')).toBe(403);
    const client = redis.client();
    await client.set('ipgate:ip:198.51.100.7', 'bob', 'EX', 60);
    client.disconnect();
    expect(await until(ipgate, '198.51.100.7', 200)).toBeLessThan(FALLBACK_CACHE_MS);
  });

  it('keeps cached answers at most FALLBACK_CACHE_MS without keyspace notifications', async () => {
    const ipgate = await replica({ REDIS_KEYSPACE_EVENTS: 'off', CACHE_TTL: '1h' });
    await login(ipgate, '198.51.100.7');
    expect(await status(ipgate, '198.51.100.7')).toBe(200);

    const client = redis.client();
    expect(await client.config('GET', 'notify-keyspace-events')).toEqual([
      'notify-keyspace-events',
      '',
    ]);
    await client.del('ipgate:ip:198.51.100.7');
    client.disconnect();
    // Polling adds its own delay on a busy machine; the bound itself is FALLBACK_CACHE_MS.
    expect(await until(ipgate, '198.51.100.7', 403)).toBeLessThanOrEqual(FALLBACK_CACHE_MS + 500);
  });

  it('never serves a cached allow past the grant’s own end', async () => {
    const ipgate = await replica({ GRANT_TTL: '1s', CACHE_TTL: '1h' });
    await login(ipgate, '198.51.100.7');
    const client = redis.client();
    const end = await client.pexpiretime('ipgate:ip:198.51.100.7');
    client.disconnect();
    expect(await status(ipgate, '198.51.100.7')).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now() + 5)));
    expect(await status(ipgate, '198.51.100.7')).toBe(403);
  });

  it('turns keyspace notifications on by adding only the classes it needs', async () => {
    const client = redis.client();
    await client.config('SET', 'notify-keyspace-events', 'Elh');
    await replica();
    const [, flags = ''] = (await client.config('GET', 'notify-keyspace-events')) as string[];
    client.disconnect();
    expect([...flags].sort().join('')).toBe([...'$EKeghlx'].sort().join(''));
  });
});
