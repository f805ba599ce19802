import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardAuthsInFile, loadYaml } from './helpers/deploy-files.js';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

// Requests shaped as Traefik v3's forwardAuth middleware sends them (pkg/middlewares/auth/
// forward.go, and the entryPoint's forwardedHeaders handling that runs first), replayed
// over a real socket. Traefik itself is the socket peer, at 127.0.0.1. The client at
// 198.51.100.7 has signed in; 203.0.113.9 has not.
const CLIENT = '198.51.100.7';
const STRANGER = '203.0.113.9';
const BALANCER = '10.0.0.5';

let redis: RedisServer;
let ipgate: TestIpgate;

beforeAll(async () => {
  redis = await RedisServer.start();
  ipgate = await startIpgate({ REDIS_URL: redis.url, WEBHOOK_SECRET: SECRET });
  for (const clientIp of [CLIENT, 'fe80::1']) {
    await request(`${ipgate.url}/authentik/webhook`, {
      method: 'POST',
      headers: [['Authorization', `Bearer ${SECRET}`]],
      body: JSON.stringify({ client_ip: clientIp, username: 'alice', action: 'login' }),
    });
  }
});

afterAll(async () => {
  await ipgate.close();
  await redis.destroy();
});

/** The headers every mode sends: the client's own, then Traefik's X-Forwarded-*. */
function traefikHeaders(forwardedFor: string, extra: [string, string][] = []): [string, string][] {
  return [
    ['Host', 'ipgate:8080'],
    ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'],
    ['Accept', 'text/html'],
    ['Cookie', 'session=abc'],
    ['X-Forwarded-For', forwardedFor],
    ['X-Forwarded-Method', 'GET'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Host', 'photos.example.com'],
    ['X-Forwarded-Uri', '/albums/1?view=grid'],
    ...extra,
  ];
}

async function ask(headers: [string, string][], method = 'GET') {
  const response = await request(`${ipgate.url}/verify`, { method, headers });
  return response.status;
}

describe('Traefik v3 forwardAuth requests', () => {
  it('trustForwardHeader unset (legacy mode): XFF is the TCP peer, X-Real-Ip and X-Forwarded-Server pass', async () => {
    const legacy = (client: string) =>
      traefikHeaders(client, [
        ['X-Forwarded-Port', '443'],
        ['X-Real-Ip', client],
        ['X-Forwarded-Server', 'traefik-7d9f'],
      ]);
    expect(await ask(legacy(CLIENT))).toBe(200);
    expect(await ask(legacy(STRANGER))).toBe(403);
  });

  it('trustForwardHeader false: XFF is the TCP peer; X-Real-Ip and X-Forwarded-Server are deleted', async () => {
    expect(await ask(traefikHeaders(CLIENT, [['X-Forwarded-Port', '443']]))).toBe(200);
    expect(await ask(traefikHeaders(STRANGER, [['X-Forwarded-Port', '443']]))).toBe(403);
  });

  it('a Forwarded header passes through every mode untouched, and decides nothing', async () => {
    const spoofed = traefikHeaders(STRANGER, [['Forwarded', `for=${CLIENT}`]]);
    expect(await ask(spoofed)).toBe(403);
  });

  it('legacy mode passes a client-chosen X-Real-Ip when the entrypoint trusts the client; it decides nothing', async () => {
    expect(await ask(traefikHeaders(STRANGER, [['X-Real-Ip', CLIENT]]))).toBe(403);
  });

  it('trustForwardHeader true behind a trusted load balancer: XFF is "client, balancer"', async () => {
    expect(await ask(traefikHeaders(`${CLIENT}, ${BALANCER}`))).toBe(200);
    expect(await ask(traefikHeaders(`${STRANGER}, ${BALANCER}`))).toBe(403);
  });

  it('trustForwardHeader true with the entrypoint trusting everyone: a spoofed left entry is ignored', async () => {
    // insecure: true keeps the client's XFF; Traefik still appends the real TCP peer.
    expect(await ask(traefikHeaders(`${CLIENT}, ${STRANGER}`))).toBe(403);
  });

  it('trustForwardHeader false behind a load balancer: XFF is only the balancer, which is denied', async () => {
    // Every entry is a trusted proxy, so the leftmost one (the balancer) is the client.
    expect(await ask(traefikHeaders(BALANCER))).toBe(403);
  });

  it('preserveRequestMethod (v3.4+): POST, HEAD and OPTIONS get the same decision', async () => {
    for (const method of ['POST', 'HEAD', 'OPTIONS']) {
      const headers = traefikHeaders(CLIENT, [['X-Forwarded-Method', method]]);
      expect([method, await ask(headers, method)]).toEqual([method, 200]);
    }
  });

  it('a link-local client keeps its zone id in XFF; ipgate drops it', async () => {
    expect(await ask(traefikHeaders('fe80::1%eth0', [['X-Real-Ip', 'fe80::1']]))).toBe(200);
    expect(await ask(traefikHeaders('fe80::1%25eth0'))).toBe(200);
  });

  it('an address query string (?policy=…) reaches ipgate unchanged and changes nothing', async () => {
    const response = await request(`${ipgate.url}/verify?policy=admin`, {
      headers: traefikHeaders(CLIENT),
    });
    expect(response.status).toBe(200);
  });

  it('IPv6 clients arrive without brackets, IPv4 clients of a dual-stack listener as dotted IPv4', async () => {
    expect(await ask(traefikHeaders('fe80::1'))).toBe(200);
    expect(await ask(traefikHeaders(CLIENT))).toBe(200);
  });
});

describe('Traefik behind a load balancer that ipgate does not trust', () => {
  it('denies, because the rightmost untrusted entry is the balancer', async () => {
    const strict = await startIpgate({ REDIS_URL: redis.url, TRUSTED_PROXIES: '127.0.0.1/32' });
    try {
      const response = await request(`${strict.url}/verify`, {
        headers: traefikHeaders(`${CLIENT}, ${BALANCER}`),
      });
      expect([response.status, response.body]).toEqual([
        403,
        `Forbidden: no recent sign-in from ${BALANCER}\n`,
      ]);
    } finally {
      await strict.close();
    }
  });
});

describe('the shipped Traefik middleware (traefik/dynamic/ipgate.yml)', () => {
  const [middleware] = forwardAuthsInFile(
    'traefik/dynamic/ipgate.yml',
    loadYaml('traefik/dynamic/ipgate.yml'),
  );

  it('is answered at its address path, with every header it copies to the app', async () => {
    const address = new URL(String(middleware?.address));
    // trustForwardHeader: true behind the trusted load balancer; as written in the file.
    expect(middleware?.trustForwardHeader).toBe(true);
    const response = await request(`${ipgate.url}${address.pathname}${address.search}`, {
      headers: traefikHeaders(`${CLIENT}, ${BALANCER}`),
    });
    expect(response.status).toBe(200);
    for (const name of middleware?.authResponseHeaders ?? []) {
      expect(response.headers[name.toLowerCase()], name).toBeDefined();
    }
    expect(response.headers['x-ipgate-user']).toBe('alice');
  });
});
