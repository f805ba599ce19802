import { describe, expect, it } from 'vitest';
import { HEARTBEAT_MS } from '../src/grant-events.js';
import { REDIS_TIMEOUT_MS } from '../src/redis.js';
import { request } from './helpers/http.js';
import { SECRET, useIpgate } from './helpers/ipgate.js';

const running = useIpgate({
  WEBHOOK_SECRET: SECRET,
  STATIC_CIDRS: '192.0.2.0/24',
});

function verify(forwardedFor: string) {
  return request(`${running.ipgate.url}/verify`, { headers: [['X-Forwarded-For', forwardedFor]] });
}

function login(clientIp: string) {
  return request(`${running.ipgate.url}/authentik/webhook`, {
    method: 'POST',
    headers: [['Authorization', `Bearer ${SECRET}`]],
    body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login' }),
  });
}

async function timed<T>(action: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await action();
  return [result, performance.now() - start];
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// A generous ceiling that still tells an answer from a hang on a busy machine.
const NO_HANG_MS = 1000;

describe('when Redis fails', () => {
  it('allows a granted address while Redis is up', async () => {
    expect((await login('198.51.100.7')).status).toBe(200);
    expect((await verify('198.51.100.7')).status).toBe(200);
  });

  it('answers 503 for grants, 200 for static CIDRs and 503 to webhooks when Redis is stopped', async () => {
    await running.redis.stop();
    await until(async () => (await request(`${running.ipgate.url}/readyz`)).status === 503);

    const [granted, elapsed] = await timed(() => verify('198.51.100.7'));
    expect(granted.status).toBe(503);
    expect(granted.headers['x-ipgate-reason']).toBe('store-unavailable');
    expect(granted.headers['cache-control']).toBe('no-store');
    expect(granted.body).toBe('Service Unavailable: sign-ins cannot be checked right now\n');
    expect(elapsed).toBeLessThan(NO_HANG_MS);

    expect((await verify('192.0.2.1')).status).toBe(200);
    const webhook = await login('198.51.100.8');
    expect(webhook.status).toBe(503);
    expect(JSON.parse(webhook.body)).toEqual({
      error: 'store_unavailable',
      message: 'Redis is unavailable; the login was not stored, retry later',
    });
    expect((await request(`${running.ipgate.url}/healthz`)).status).toBe(200);
    const lost = running.ipgate.logs.withMessage('redis connection lost');
    expect(lost.map((line) => line.connection ?? 'commands').sort()).toEqual([
      'commands',
      'events',
    ]);
  });

  it('recovers by itself when Redis comes back, and the retried webhook then succeeds', async () => {
    await running.redis.launch();
    await until(async () => (await request(`${running.ipgate.url}/readyz`)).status === 200);

    expect((await login('198.51.100.8')).status).toBe(200);
    expect((await verify('198.51.100.8')).status).toBe(200);
    expect(running.ipgate.logs.withMessage('redis connection restored')).toHaveLength(2);
  });

  it('answers 503 within the bound when Redis hangs (SIGSTOP), and recovers on SIGCONT', async () => {
    expect((await verify('198.51.100.8')).status).toBe(200);
    running.redis.signal('SIGSTOP');
    try {
      // A cached allow outlives the silence only until the next heartbeat misses.
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + REDIS_TIMEOUT_MS + 50));
      const [granted, elapsed] = await timed(() => verify('198.51.100.8'));
      expect(granted.status).toBe(503);
      expect(elapsed).toBeLessThan(NO_HANG_MS);
      expect((await verify('192.0.2.1')).status).toBe(200);
      expect((await request(`${running.ipgate.url}/readyz`)).status).toBe(503);
      expect((await login('198.51.100.9')).status).toBe(503);
    } finally {
      running.redis.signal('SIGCONT');
    }
    await until(async () => (await verify('198.51.100.8')).status === 200);
  });
});
