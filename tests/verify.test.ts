import { connect } from 'node:net';
import { beforeEach, describe, expect, it } from 'vitest';
import { forwardedFor, isVerifyTarget } from '../src/verify.js';
import { rawRequest, request } from './helpers/http.js';
import { SECRET, startIpgate, useIpgate } from './helpers/ipgate.js';

const running = useIpgate({
  WEBHOOK_SECRET: SECRET,
  STATIC_CIDRS: '192.0.2.0/24, 2001:db8:ffff::/48',
  TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8',
});

beforeEach(async () => {
  await running.ipgate.reset();
});

function verify(forwardedFor: string | string[], init: { method?: string; path?: string } = {}) {
  const lines = Array.isArray(forwardedFor) ? forwardedFor : [forwardedFor];
  return request(`${running.ipgate.url}${init.path ?? '/verify'}`, {
    method: init.method ?? 'GET',
    headers: lines.map((line) => ['X-Forwarded-For', line] as const),
  });
}

async function login(clientIp: string, username = 'alice') {
  const response = await request(`${running.ipgate.url}/authentik/webhook`, {
    method: 'POST',
    headers: [
      ['Authorization', `Bearer ${SECRET}`],
      ['Content-Type', 'application/json'],
    ],
    body: JSON.stringify({ client_ip: clientIp, username, action: 'login', event_id: 'e1' }),
  });
  expect(response.status).toBe(200);
  return JSON.parse(response.body) as { grant: string };
}

describe('/verify over a real socket', () => {
  it('denies an address without a grant with 403, a short text and no-store', async () => {
    const response = await verify('198.51.100.7');
    expect(response.status).toBe(403);
    expect(response.body).toBe('Forbidden: no recent sign-in from 198.51.100.7\n');
    expect(response.headers['content-type']).toBe('text/plain; charset=UTF-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-ipgate-reason']).toBe('no-grant');
    expect(response.headers['x-ipgate-user']).toBeUndefined();
  });

  it('allows an address after its login, naming the user', async () => {
    await login('198.51.100.7', 'alice');
    const response = await verify('198.51.100.7');
    expect(response.status).toBe(200);
    expect(response.body).toBe('');
    expect(response.headers['content-length']).toBe('0');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-ipgate-reason']).toBe('grant');
    expect(response.headers['x-ipgate-user']).toBe('alice');
  });

  it('allows a static CIDR without asking Redis, with an empty user header', async () => {
    const response = await verify('192.0.2.77');
    expect(response.status).toBe(200);
    expect(response.headers['x-ipgate-reason']).toBe('static');
    expect(response.headers['x-ipgate-user']).toBe('');
  });

  it('gives every method and query the same decision; HEAD has no body', async () => {
    await login('198.51.100.7');
    for (const method of ['GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE']) {
      const allowed = await verify('198.51.100.7', { method, path: '/verify?x=1&y=2' });
      const denied = await verify('198.51.100.8', { method, path: '/verify?token=abc' });
      expect([method, allowed.status, denied.status]).toEqual([method, 200, 403]);
      if (method === 'HEAD') expect(denied.body).toBe('');
    }
  });

  it('sends every answer with its length, never chunked', async () => {
    await login('198.51.100.7');
    for (const client of ['198.51.100.7', '192.0.2.77', '198.51.100.8']) {
      const response = await verify(client);
      expect(response.headers['transfer-encoding']).toBeUndefined();
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.body)));
    }
  });

  it('answers the next request on a connection after a body it did not read', async () => {
    const socket = connect(Number(new URL(running.ipgate.url).port), '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      received += chunk;
    });
    const head = 'Host: ipgate\r\nX-Forwarded-For: 192.0.2.77\r\n';
    socket.write(`POST /verify HTTP/1.1\r\n${head}Content-Length: 11\r\n\r\nhello world`);
    socket.write(`GET /verify HTTP/1.1\r\n${head}\r\n`);
    await expect
      .poll(() => received.match(/^HTTP\/1\.1 200 OK/gm)?.length ?? 0, { timeout: 2000 })
      .toBe(2);
    socket.destroy();
  });

  it('decides a request whose target is in absolute form', async () => {
    const head = 'Host: ipgate\r\nX-Forwarded-For: 203.0.113.9\r\n';
    const answer = await rawRequest(
      running.ipgate.url,
      `GET http://ipgate/verify?x=1 HTTP/1.1\r\n${head}\r\n`,
    );
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
  });

  it.each(['/verify/', '/verifyx', '/verify%3F', '/Verify'])(
    'treats %s as another path (404)',
    async (path) => {
      const response = await verify('192.0.2.77', { path });
      expect([response.status, response.body]).toEqual([404, 'Not Found\n']);
    },
  );

  it('allows the whole IPv6 /64 of a login', async () => {
    const { grant } = await login('2001:db8:1:2::10');
    expect(grant).toBe('2001:db8:1:2::/64');
    expect((await verify('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).status).toBe(200);
    expect((await verify('2001:db8:1:3::10')).status).toBe(403);
  });

  it('matches an IPv4 grant when the client arrives v4-mapped', async () => {
    await login('198.51.100.7');
    expect((await verify('::ffff:198.51.100.7')).status).toBe(200);
  });

  it('reads the rightmost X-Forwarded-For entry, across header lines', async () => {
    await login('198.51.100.7');
    expect((await verify(['203.0.113.9', '198.51.100.7'])).status).toBe(200);
    expect((await verify(['198.51.100.7', '203.0.113.9'])).status).toBe(403);
    expect((await verify('198.51.100.7, 10.0.0.5')).status).toBe(200);
  });

  it('ignores X-Real-Ip and Forwarded', async () => {
    await login('198.51.100.7');
    const response = await request(`${running.ipgate.url}/verify`, {
      headers: [
        ['X-Forwarded-For', '203.0.113.9'],
        ['X-Real-Ip', '198.51.100.7'],
        ['Forwarded', 'for=198.51.100.7'],
      ],
    });
    expect(response.status).toBe(403);
  });

  it.each([
    [undefined, 'no-forwarded-for', 'Forbidden: the proxy sent no X-Forwarded-For header\n'],
    [
      'garbage',
      'bad-forwarded-for',
      'Forbidden: X-Forwarded-For holds an entry that is not an IP address\n',
    ],
  ])('denies X-Forwarded-For %j as %s', async (forwardedFor, reason, body) => {
    const response = await request(`${running.ipgate.url}/verify`, {
      headers: forwardedFor === undefined ? [] : [['X-Forwarded-For', forwardedFor]],
    });
    expect([response.status, response.headers['x-ipgate-reason'], response.body]).toEqual([
      403,
      reason,
      body,
    ]);
  });

  it('percent-encodes a user name that is not printable ASCII', async () => {
    await login('198.51.100.7', 'jürgen 名');
    const response = await verify('198.51.100.7');
    expect(response.headers['x-ipgate-user']).toBe('j%C3%BCrgen%20%E5%90%8D');
  });

  it('treats a grant written by hand with redis-cli as a grant', async () => {
    await running.ipgate.redis.set('ipgate:ip:198.51.100.7', 'bob', 'EX', 60);
    const response = await verify('198.51.100.7');
    expect([response.status, response.headers['x-ipgate-user']]).toEqual([200, 'bob']);
  });

  it('keeps idle connections longer than the proxies do', async () => {
    const response = await request(`${running.ipgate.url}/verify`, {
      headers: [
        ['Connection', 'keep-alive'],
        ['X-Forwarded-For', '198.51.100.7'],
      ],
    });
    expect(response.headers['keep-alive']).toBe('timeout=125');
  });
});

describe('/verify from a peer that is not a trusted proxy', () => {
  it('denies even a static address', async () => {
    const strict = await startIpgate({
      REDIS_URL: running.redis.url,
      STATIC_CIDRS: '0.0.0.0/0',
      TRUSTED_PROXIES: '10.0.0.0/8',
    });
    try {
      const response = await request(`${strict.url}/verify`, {
        headers: [['X-Forwarded-For', '192.0.2.1']],
      });
      expect([response.status, response.headers['x-ipgate-reason'], response.body]).toEqual([
        403,
        'untrusted-peer',
        'Forbidden: this endpoint answers trusted proxies only\n',
      ]);
    } finally {
      await strict.close();
    }
  });
});

describe('health endpoints', () => {
  it('answers /healthz and /readyz while Redis is up', async () => {
    const health = await request(`${running.ipgate.url}/healthz`);
    const ready = await request(`${running.ipgate.url}/readyz`);
    expect([health.status, health.body]).toEqual([200, '{"status":"ok"}']);
    expect([ready.status, ready.body]).toEqual([200, '{"status":"ready"}']);
  });

  it('answers 404 for an unknown path', async () => {
    const response = await request(`${running.ipgate.url}/admin`);
    expect([response.status, response.body]).toEqual([404, 'Not Found\n']);
  });
});

describe('isVerifyTarget', () => {
  it.each([
    ['/verify', true],
    ['/verify?', true],
    ['/verify?x=1&next=/verify', true],
    ['/verify/', false],
    ['/verifyx', false],
    ['/verify#x', false],
    ['/Verify', false],
    ['//verify', false],
    ['http://ipgate/verify', true],
    ['https://ipgate:8080/verify?x=1', true],
    ['HTTP://ipgate/verify', true],
    ['http://ipgate/verify/', false],
    ['http://ipgate/other?next=/verify', false],
    ['http://ipgate', false],
    ['ftp://ipgate/verify', false],
    ['verify', false],
    ['*', false],
    ['', false],
    [undefined, false],
  ])('%s: %s', (target, expected) => {
    expect(isVerifyTarget(target)).toBe(expected);
  });
});

describe('forwardedFor', () => {
  it.each([
    ['no header', ['Host', 'ipgate'], undefined],
    ['one line', ['Host', 'ipgate', 'X-Forwarded-For', '198.51.100.7'], '198.51.100.7'],
    ['any case', ['x-FORWARDED-for', '198.51.100.7'], '198.51.100.7'],
    ['an empty line', ['X-Forwarded-For', ''], ''],
    [
      'lines joined as Node joins them',
      ['X-Forwarded-For', '1.1.1.1, 2.2.2.2', 'Accept', '*/*', 'X-Forwarded-For', '3.3.3.3'],
      '1.1.1.1, 2.2.2.2, 3.3.3.3',
    ],
    [
      'other names of the same length',
      ['Accept-Language', 'en', 'X-Forwarded-Fox', '1'],
      undefined,
    ],
  ])('%s', (_name, rawHeaders, expected) => {
    expect(forwardedFor(rawHeaders)).toBe(expected);
  });
});
