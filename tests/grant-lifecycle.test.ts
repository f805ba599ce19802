import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

let redis: RedisServer;
let ipgate: TestIpgate;

beforeAll(async () => {
  redis = await RedisServer.start();
  ipgate = await startIpgate({ REDIS_URL: redis.url, WEBHOOK_SECRET: SECRET, GRANT_TTL: '2s' });
});

afterAll(async () => {
  await ipgate.close();
  await redis.destroy();
});

function verify(forwardedFor: string) {
  return request(`${ipgate.url}/verify`, { headers: [['X-Forwarded-For', forwardedFor]] });
}

async function login(clientIp: string, created: Date) {
  const response = await request(`${ipgate.url}/authentik/webhook`, {
    method: 'POST',
    headers: [['Authorization', `Bearer ${SECRET}`]],
    body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login', created }),
  });
  return JSON.parse(response.body) as { status: string; expiresAt?: string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a grant over its lifetime (GRANT_TTL=2s)', () => {
  it('allows right after the login and denies once the TTL has passed', async () => {
    const answer = await login('198.51.100.7', new Date());
    expect(answer.status).toBe('granted');
    expect((await verify('198.51.100.7')).status).toBe(200);

    await sleep(Date.parse(answer.expiresAt ?? '') - Date.now() + 50);
    expect((await verify('198.51.100.7')).status).toBe(403);
  });

  it('is extended by a new login, and not shortened by a late retry of the old one', async () => {
    const first = new Date(Date.now() - 1000);
    const firstAnswer = await login('198.51.100.8', first);
    const second = await login('198.51.100.8', new Date());
    expect(Date.parse(second.expiresAt ?? '')).toBeGreaterThan(
      Date.parse(firstAnswer.expiresAt ?? ''),
    );

    const retried = await login('198.51.100.8', first);
    expect(retried).toEqual({
      status: 'granted',
      grant: '198.51.100.8',
      expiresAt: second.expiresAt,
    });
    const expireTime = await ipgate.redis.pexpiretime('ipgate:ip:198.51.100.8');
    expect(new Date(expireTime).toISOString()).toBe(second.expiresAt);
  });

  it('grants nothing for an event older than GRANT_TTL', async () => {
    const answer = await login('198.51.100.9', new Date(Date.now() - 3000));
    expect(answer.status).toBe('ignored');
    expect((await verify('198.51.100.9')).status).toBe(403);
  });
});
