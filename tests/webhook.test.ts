import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

// Grants expire on Redis's clock, so the service's clock is pinned close to the real one.
const NOW = Math.floor(Date.now() / 1000) * 1000;
const DAY = 86_400_000;
const CREATED = NOW - 257_877;
const iso = (time: number) => new Date(time).toISOString();

let redis: RedisServer;
let ipgate: TestIpgate;

beforeAll(async () => {
  redis = await RedisServer.start();
  ipgate = await startIpgate(
    { REDIS_URL: redis.url, WEBHOOK_SECRET: SECRET, GRANT_TTL: '30d' },
    { now: () => NOW },
  );
});

afterAll(async () => {
  await ipgate.close();
  await redis.destroy();
});

beforeEach(async () => {
  await ipgate.reset();
});

// The body that docs/authentik.md's body mapping produces for a login.
const mappedLogin = {
  event_id: '3f2a6c1e-8b7d-4e5f-9a0b-1c2d3e4f5a6b',
  action: 'login',
  username: 'alice',
  user_pk: 7,
  client_ip: '203.0.113.45',
  created: `${iso(CREATED).slice(0, -1)}456Z`,
  geo: null,
  app: null,
  severity: 'notice',
};

function post(
  body: string,
  headers: [string, string][] = [['Authorization', `Bearer ${SECRET}`]],
  query = '',
) {
  return request(`${ipgate.url}/authentik/webhook${query}`, {
    method: 'POST',
    headers: [['Content-Type', 'application/json'], ...headers],
    body,
  });
}

function json(response: { body: string }): unknown {
  return JSON.parse(response.body);
}

describe('POST /authentik/webhook', () => {
  it('stores a grant for a mapped login, with the TTL counted from the event', async () => {
    const response = await post(JSON.stringify(mappedLogin));
    expect(response.status).toBe(200);
    expect(json(response)).toEqual({
      status: 'granted',
      grant: '203.0.113.45',
      expiresAt: iso(CREATED + 30 * DAY),
    });

    const stored = JSON.parse((await ipgate.redis.get('ipgate:ip:203.0.113.45')) ?? '{}');
    expect(stored).toEqual({
      user: 'alice',
      event_id: mappedLogin.event_id,
      login_at: iso(CREATED),
    });
    const expireTime = await ipgate.redis.pexpiretime('ipgate:ip:203.0.113.45');
    expect(expireTime).toBe(CREATED + 30 * DAY);
    expect(ipgate.logs.withMessage('grant stored')).toHaveLength(1);
  });

  it('accepts the secret as ?token= for Authentik before 2025.4', async () => {
    const response = await post(JSON.stringify(mappedLogin), [], `?token=${SECRET}`);
    expect(response.status).toBe(200);
  });

  it('accepts the old recipe body with a top-level ip', async () => {
    const response = await post(JSON.stringify({ ip: '198.51.100.7' }));
    expect(json(response)).toMatchObject({ status: 'granted', grant: '198.51.100.7' });
  });

  it.each([
    ['no secret', []],
    ['a wrong bearer secret', [['Authorization', 'Bearer wrong-secret-0123456789']]],
    ['a basic authorization', [['Authorization', `Basic ${SECRET}`]]],
  ] as [string, [string, string][]][])(
    'answers 401 and stores nothing for %s',
    async (_case, headers) => {
      const response = await post(JSON.stringify(mappedLogin), headers);
      expect(response.status).toBe(401);
      expect(json(response)).toEqual({
        error: 'unauthorized',
        message: 'missing or wrong secret: send Authorization: Bearer <secret>',
      });
      expect(await ipgate.redis.dbsize()).toBe(0);
    },
  );

  it('answers 401 to a wrong ?token=', async () => {
    const response = await post(JSON.stringify(mappedLogin), [], '?token=nope-nope-nope-nope');
    expect(response.status).toBe(401);
  });

  it('answers 400 to a body that is not JSON, naming the problem', async () => {
    const response = await post('{"client_ip": ');
    expect(response.status).toBe(400);
    expect(json(response)).toMatchObject({ error: 'invalid_json' });
    expect((json(response) as { message: string }).message).toMatch(/^body is not valid JSON: /);
  });

  it('answers 400 to an invalid client_ip and keeps what was stored', async () => {
    await post(JSON.stringify(mappedLogin));
    const response = await post(JSON.stringify({ ...mappedLogin, client_ip: '203.0.113.999' }));
    expect(response.status).toBe(400);
    expect(json(response)).toEqual({
      error: 'invalid_payload',
      message: 'client_ip "203.0.113.999" is not an IP address',
    });
    expect(await ipgate.redis.keys('ipgate:ip:*')).toEqual(['ipgate:ip:203.0.113.45']);
  });

  it('answers 413 to a body over 64 KiB', async () => {
    const response = await post(JSON.stringify({ ...mappedLogin, padding: 'x'.repeat(65_536) }));
    expect(response.status).toBe(413);
    expect(json(response)).toEqual({
      error: 'payload_too_large',
      message: 'body is larger than 65536 bytes',
    });
    expect(await ipgate.redis.dbsize()).toBe(0);
  });

  it('answers 405 to other methods', async () => {
    const response = await request(`${ipgate.url}/authentik/webhook`);
    expect([response.status, response.headers.allow]).toEqual([405, 'POST']);
  });

  it.each([
    ['an empty body', ''],
    [
      "Authentik's Test button",
      JSON.stringify({
        body: 'Test Notification from transport ipgate',
        severity: 'notice',
        user_email: 'a@example.com',
        user_username: 'akadmin',
      }),
    ],
    [
      'the default body of a login',
      JSON.stringify({
        body: "login: {'auth_method': 'password'}",
        severity: 'notice',
        user_email: 'alice@example.com',
        user_username: 'alice',
        event_user_email: 'alice@example.com',
        event_user_username: 'alice',
      }),
    ],
    ['a null client_ip', JSON.stringify({ ...mappedLogin, client_ip: null })],
    ['an unknown client_ip', JSON.stringify({ ...mappedLogin, client_ip: '255.255.255.255' })],
    ['an unspecified client_ip', JSON.stringify({ ...mappedLogin, client_ip: '0.0.0.0' })],
    ['another action', JSON.stringify({ ...mappedLogin, action: 'logout' })],
  ])('answers 200 ignored with a reason to %s', async (_case, body) => {
    const response = await post(body);
    expect(response.status).toBe(200);
    const answer = json(response) as { status: string; reason: string };
    expect(answer.status).toBe('ignored');
    expect(answer.reason.length).toBeGreaterThan(20);
    expect(await ipgate.redis.dbsize()).toBe(0);
  });

  it('logs ignored payloads at warn once per reason and minute', async () => {
    const before = ipgate.logs.lines.filter((line) => line.level === 'warn').length;
    for (let i = 0; i < 5; i++)
      await post(JSON.stringify({ ...mappedLogin, action: 'model_created' }));
    const warnings = ipgate.logs.lines.filter((line) => line.level === 'warn').slice(before);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: 'webhook ignored', code: 'ignored' });
  });

  it('grants nothing for an event older than GRANT_TTL', async () => {
    const old = new Date(NOW - 31 * DAY).toISOString();
    const response = await post(JSON.stringify({ ...mappedLogin, created: old }));
    expect(json(response)).toMatchObject({ status: 'ignored' });
    expect(await ipgate.redis.dbsize()).toBe(0);
  });

  it('never logs the secret', async () => {
    await post(JSON.stringify(mappedLogin), [['Authorization', 'Bearer not-the-secret-but-long']]);
    await post(JSON.stringify(mappedLogin), [], `?token=${SECRET}`);
    await post('nope');
    expect(ipgate.logs.raw.join('\n')).not.toContain(SECRET);
  });
});

describe('POST /authentik/webhook without WEBHOOK_SECRET', () => {
  it('answers 503 saying the webhook is disabled', async () => {
    const disabled = await startIpgate({ REDIS_URL: redis.url });
    try {
      const response = await request(`${disabled.url}/authentik/webhook`, {
        method: 'POST',
        body: JSON.stringify(mappedLogin),
      });
      expect(response.status).toBe(503);
      expect(json(response)).toEqual({
        error: 'webhook_disabled',
        message: 'WEBHOOK_SECRET is not set, so the webhook is disabled',
      });
    } finally {
      await disabled.close();
    }
  });
});
