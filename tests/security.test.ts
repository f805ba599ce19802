import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { openBackend } from '../src/backend.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createServer } from '../src/server.js';
import { rawRequest, request } from './helpers/http.js';
import { LogCapture, SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

let redis: RedisServer;
let ipgate: TestIpgate;

beforeAll(async () => {
  redis = await RedisServer.start();
  ipgate = await startIpgate({ REDIS_URL: redis.url, WEBHOOK_SECRET: SECRET });
});

afterAll(async () => {
  await ipgate.close();
  await redis.destroy();
});

// Marks of an internal detail: a stack frame, a file path, an error class or message.
const INTERNALS = /\bat .+\(|node_modules|\/src\/|\.ts:\d|Error:|TypeError|ECONN|ioredis/;

const DETAIL = 'internal detail: /src/grant-store.ts:42';

describe('what a response may reveal', () => {
  it.each([
    ['a lookup that fails', () => Promise.reject(new TypeError(DETAIL))],
    [
      'a lookup that throws',
      () => {
        throw new TypeError(DETAIL);
      },
    ],
  ])('answers %s with a bare 500, logs it, and goes on', async (_name, find) => {
    const logs = new LogCapture();
    const config = parseConfig({ REDIS_URL: redis.url, WEBHOOK_SECRET: SECRET });
    const backend = openBackend(config, createLogger('info', logs));
    const failing = {
      cached: () => undefined,
      find,
    };
    const app = createApp(config, {
      ...backend,
      grants: failing,
      logger: createLogger('info', logs),
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const response = await request(`${url}/verify`, {
        headers: [['X-Forwarded-For', '198.51.100.7']],
      });
      expect(response.status).toBe(500);
      expect(response.body).toBe('Internal Server Error\n');
      expect(JSON.stringify(response.headers)).not.toMatch(INTERNALS);
      expect(logs.withMessage('request failed')).toHaveLength(1);
      const health = await request(`${url}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await backend.close('disconnect');
    }
  });

  it.each([
    ['a malformed path', 'GET /%zz%%/verify HTTP/1.1\r\nHost: ipgate\r\n\r\n'],
    ['an absolute URL', 'GET http://evil.example/verify HTTP/1.1\r\nHost: ipgate\r\n\r\n'],
    [
      'a broken Host',
      'GET /verify HTTP/1.1\r\nHost: [::1\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n',
    ],
    ['an unknown method', 'BREW /verify HTTP/1.1\r\nHost: ipgate\r\n\r\n'],
    ['a bad query escape', 'POST /authentik/webhook?token=%ff%fe HTTP/1.1\r\nHost: i\r\n\r\n'],
    ['a control character', 'GET /verify HTTP/1.1\r\nHost: ipgate\r\nX-A: a\u0001b\r\n\r\n'],
    [
      'a bad chunk',
      'POST /authentik/webhook HTTP/1.1\r\nHost: i\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ],
    ['HTTP/0.9', 'GET /verify\r\n\r\n'],
  ])('reveals nothing internal to %s', async (_name, text) => {
    const answer = await rawRequest(ipgate.url, text);
    expect(answer).toMatch(/^HTTP\/1\.1 [2-5]\d\d /);
    expect(answer).not.toMatch(INTERNALS);
  });

  it('reveals nothing internal in webhook errors', async () => {
    const headers: [string, string][] = [['Authorization', `Bearer ${SECRET}`]];
    for (const body of ['{', '[]', '{"client_ip":{"__proto__":1}}', '\u0000']) {
      const response = await request(`${ipgate.url}/authentik/webhook`, {
        method: 'POST',
        headers,
        body,
      });
      expect(response.status).toBe(400);
      expect(response.body).not.toMatch(/\bat .+\(|node_modules|\/src\//);
    }
  });
});

describe('the webhook secret', () => {
  it('never appears in the logs, right or wrong, in the header or the query, Redis up or down', async () => {
    const body = JSON.stringify({ client_ip: '198.51.100.7', username: 'alice', action: 'login' });
    const send = (path: string, headers: [string, string][] = []) =>
      request(`${ipgate.url}${path}`, { method: 'POST', headers, body });
    const attempts = async () => [
      (await send('/authentik/webhook', [['Authorization', `Bearer ${SECRET}`]])).status,
      (await send(`/authentik/webhook?token=${SECRET}`)).status,
      (await send('/authentik/webhook', [['Authorization', `Bearer ${SECRET}x`]])).status,
      (await send(`/authentik/webhook?token=x${SECRET}`)).status,
      (await send('/authentik/webhook', [['Authorization', `Basic ${SECRET}`]])).status,
    ];

    expect(await attempts()).toEqual([200, 200, 401, 401, 401]);
    await redis.stop();
    expect(await attempts()).toEqual([503, 503, 401, 401, 401]);
    await redis.launch();

    for (let i = 0; i < 100 && (await request(`${ipgate.url}/readyz`)).status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The webhook routed behind the gate: the proxy asks /verify with the URI, token and all.
    const forwarded = await request(`${ipgate.url}/verify`, {
      headers: [
        ['X-Forwarded-For', '198.51.100.7'],
        ['X-Forwarded-Uri', `/authentik/webhook?a=1&token=${SECRET}&b=2`],
      ],
    });
    expect(forwarded.status).toBe(403); // Redis restarted empty above
    expect(ipgate.logs.withMessage('decision').at(-1)).toMatchObject({
      path: '/authentik/webhook?a=1&token=[redacted]&b=2',
    });

    expect(ipgate.logs.raw.length).toBeGreaterThan(5);
    expect(ipgate.logs.raw.join('\n')).not.toContain(SECRET);
  });
});

describe('the admin and metrics tokens', () => {
  const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

  it('never appear in the logs, right or wrong, and a wrong one gets 401 and changes nothing', async () => {
    const gate = await startIpgate({ REDIS_URL: redis.url, ADMIN_TOKEN, METRICS_TOKEN });
    try {
      const ask = (path: string, token: string, method = 'GET', body?: string) =>
        request(`${gate.url}${path}`, {
          method,
          headers: [['Authorization', `Bearer ${token}`]],
          ...(body === undefined ? {} : { body }),
        });
      const grant = JSON.stringify({ address: '198.51.100.60', ttl: '1h', user: 'mallory' });

      expect((await ask('/admin/grants', `${ADMIN_TOKEN}x`, 'POST', grant)).status).toBe(401);
      expect((await ask('/admin/grants', METRICS_TOKEN, 'POST', grant)).status).toBe(401);
      const client = redis.client();
      expect(await client.exists('ipgate:ip:198.51.100.60')).toBe(0);
      client.disconnect();
      expect((await ask('/metrics', ADMIN_TOKEN)).status).toBe(401);
      expect((await ask('/admin/grants', ADMIN_TOKEN, 'POST', grant)).status).toBe(201);
      expect((await ask('/metrics', METRICS_TOKEN)).status).toBe(200);
      expect((await ask('/admin/grants/198.51.100.60', ADMIN_TOKEN, 'DELETE')).status).toBe(200);

      const logged = gate.logs.raw.join('\n');
      expect(gate.logs.raw.length).toBeGreaterThan(2);
      expect(logged).not.toContain(ADMIN_TOKEN);
      expect(logged).not.toContain(METRICS_TOKEN);
    } finally {
      await gate.close();
    }
  });
});
