import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HttpResponse, request } from '../helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from '../helpers/ipgate.js';
import {
  type EchoApp,
  type ProxyTargets,
  type RunningProxy,
  startCaddy,
  startEchoApp,
  startNginx,
} from '../helpers/proxies.js';
import { RedisServer } from '../helpers/redis-server.js';

interface ProxyCase {
  readonly name: string;
  readonly start: (targets: ProxyTargets) => Promise<RunningProxy>;
  /** What the client gets when ipgate answers 403 for `client`. */
  readonly expectDenied: (response: HttpResponse, client: string) => void;
  readonly statusWhenRedisIsDown: number;
  readonly statusWhenIpgateIsDown: number;
}

const proxies: ProxyCase[] = [
  {
    name: 'Caddy forward_auth',
    start: startCaddy,
    // Caddy hands ipgate's own answer to the client.
    expectDenied: (response, client) => {
      expect(response.status).toBe(403);
      expect(response.body).toBe(`Forbidden: no recent sign-in from ${client}\n`);
      expect(response.headers['x-ipgate-reason']).toBe('no-grant');
    },
    statusWhenRedisIsDown: 503,
    statusWhenIpgateIsDown: 502,
  },
  {
    name: 'nginx auth_request',
    start: startNginx,
    // nginx answers a 403 with its own error page.
    expectDenied: (response) => {
      expect(response.status).toBe(403);
      expect(response.body).toContain('<center>nginx');
      expect(response.headers['x-ipgate-reason']).toBeUndefined();
    },
    statusWhenRedisIsDown: 500,
    statusWhenIpgateIsDown: 500,
  },
];

// The IPv4 client connects from 127.0.0.2, so that ipgate can trust only the proxy's own
// 127.0.0.1; the IPv6 client is ::1, which 127.0.0.1 (the proxy's side) never is.
const families = [
  { family: 4, localAddress: '127.0.0.2', client: '127.0.0.2', neighbour: '127.0.0.3' },
  { family: 6, localAddress: '::1', client: '::1', neighbour: '::abcd' },
] as const;

describe.each(proxies)('through $name', (proxy) => {
  let redis: RedisServer;
  let ipgate: TestIpgate;
  let app: EchoApp;
  let running: RunningProxy;

  beforeAll(async () => {
    redis = await RedisServer.start();
    ipgate = await startIpgate({
      REDIS_URL: redis.url,
      WEBHOOK_SECRET: SECRET,
      TRUSTED_PROXIES: '127.0.0.1/32',
      LOG_LEVEL: 'info',
    });
    app = await startEchoApp();
    running = await proxy.start({
      ipgatePort: Number(new URL(ipgate.url).port),
      appPort: app.port,
    });
  });

  afterAll(async () => {
    await running?.stop();
    await app?.close();
    await ipgate?.close();
    await redis?.destroy();
  });

  beforeEach(async () => {
    await ipgate.reset();
  });

  async function login(clientIp: string, created = new Date()) {
    const response = await request(`${ipgate.url}/authentik/webhook`, {
      method: 'POST',
      headers: [['Authorization', `Bearer ${SECRET}`]],
      body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login', created }),
    });
    expect(response.status).toBe(200);
  }

  describe.each(families)('over IPv$family', ({ family, localAddress, client, neighbour }) => {
    const url = () => `${running.urls[family]}/photos?album=1`;
    const send = (options: { method?: string; headers?: [string, string][]; body?: string } = {}) =>
      request(url(), { localAddress, ...options });

    it('denies a client that has not signed in, and the app never sees the request', async () => {
      const before = app.requests.length;
      proxy.expectDenied(await send(), client);
      expect(app.requests.length).toBe(before);
    });

    it('lets the client through after its login, and the app sees X-Ipgate-User', async () => {
      await login(client);
      const response = await send({ headers: [['X-Ipgate-User', 'mallory']] });
      expect(response.status).toBe(200);
      const seen = JSON.parse(response.body) as { headers: Record<string, string> };
      expect(seen.headers['x-ipgate-user']).toBe('alice');
      expect(seen.headers['x-ipgate-reason']).toBe('grant');
    });

    it.each([
      ['X-Forwarded-For', '198.51.100.7'],
      ['X-Real-Ip', '198.51.100.7'],
      ['Forwarded', 'for=198.51.100.7'],
    ])('still denies a client that sends its own %s naming an allowed IP', async (name, value) => {
      await login('198.51.100.7');
      proxy.expectDenied(await send({ headers: [[name, value]] }), client);
    });

    it('answers POST with a body and HEAD without hanging, allowed or not', async () => {
      const post = {
        method: 'POST',
        body: 'a'.repeat(5000),
        headers: [['Content-Type', 'text/plain']] as [string, string][],
      };
      proxy.expectDenied(await send(post), client);
      expect((await send({ method: 'HEAD' })).status).toBe(403);

      await login(client);
      const allowed = await send(post);
      expect(allowed.status).toBe(200);
      expect(JSON.parse(allowed.body)).toMatchObject({ method: 'POST', bodyLength: 5000 });
      expect((await send({ method: 'HEAD' })).status).toBe(200);
    });

    it('denies the client again once its grant has expired', async () => {
      // A login 30 days minus 1.5 s ago: GRANT_TTL (30d) ends 1.5 s from now.
      await login(client, new Date(Date.now() - 30 * 86_400_000 + 1500));
      expect((await send()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1700));
      proxy.expectDenied(await send(), client);
    });

    if (family === 6) {
      it('lets an IPv6 client through on a login from elsewhere in its /64', async () => {
        await login(neighbour);
        expect((await send()).status).toBe(200);
      });
    } else {
      it('keeps an IPv4 grant to its own address', async () => {
        await login(neighbour);
        proxy.expectDenied(await send(), client);
      });
    }
  });

  it(`answers ${proxy.statusWhenRedisIsDown} without hanging while Redis is down`, async () => {
    await login('127.0.0.2');
    await redis.stop();
    try {
      const started = Date.now();
      const response = await request(running.urls[4], { localAddress: '127.0.0.2' });
      expect(response.status).toBe(proxy.statusWhenRedisIsDown);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await redis.launch();
    }
  });

  it(`answers ${proxy.statusWhenIpgateIsDown} without hanging while ipgate is down`, async () => {
    await ipgate.close();
    const started = Date.now();
    const response = await request(running.urls[6], { localAddress: '::1' });
    expect(response.status).toBe(proxy.statusWhenIpgateIsDown);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
