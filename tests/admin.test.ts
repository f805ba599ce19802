import { beforeEach, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, useIpgate } from './helpers/ipgate.js';

const TOKEN = 'admin-token-0123456789abcdef';

const running = useIpgate({
  WEBHOOK_SECRET: SECRET,
  ADMIN_TOKEN: TOKEN,
  TRUSTED_PROXIES: '127.0.0.1',
});

beforeEach(async () => {
  await running.ipgate.reset();
});

function admin(method: string, path: string, body?: unknown, token = TOKEN) {
  return request(`${running.ipgate.url}/admin${path}`, {
    method,
    headers: [
      ['Authorization', `Bearer ${token}`],
      ['Content-Type', 'application/json'],
    ],
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function verify(client: string) {
  return request(`${running.ipgate.url}/verify`, { headers: [['X-Forwarded-For', client]] });
}

const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

describe('admin API', () => {
  it('answers 401 to a missing or wrong token', async () => {
    expect((await admin('GET', '/grants', undefined, 'wrong-token-0123456789')).status).toBe(401);
    const response = await request(`${running.ipgate.url}/admin/grants`);
    expect(response.status).toBe(401);
    expect(json(response.body)).toEqual({
      error: 'unauthorized',
      message: 'send Authorization: Bearer <ADMIN_TOKEN>',
    });
  });

  it('adds a manual grant that /verify allows, with its note', async () => {
    const added = await admin('POST', '/grants', {
      address: '198.51.100.7',
      ttl: '2h',
      user: 'alice',
      note: 'ticket 42',
    });
    expect(added.status).toBe(201);
    expect(json(added.body)).toMatchObject({ status: 'granted', grant: '198.51.100.7' });

    const allowed = await verify('198.51.100.7');
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-ipgate-user']).toBe('alice');

    const shown = await admin('GET', '/grants/198.51.100.7');
    expect(shown.status).toBe(200);
    expect(json(shown.body)).toMatchObject({
      grant: '198.51.100.7',
      user: 'alice',
      note: 'ticket 42',
    });
    expect(json(shown.body).ttlSeconds).toBeGreaterThan(7190);
  });

  it('turns an IPv6 address into its /64 grant, and accepts that /64 itself', async () => {
    const byAddress = await admin('POST', '/grants', { address: '2001:db8:1:2::10', ttl: 60 });
    expect(json(byAddress.body)).toMatchObject({ grant: '2001:db8:1:2::/64' });
    const byCidr = await admin('POST', '/grants', { address: '2001:db8:1:3::/64', ttl: 60 });
    expect(json(byCidr.body)).toMatchObject({ grant: '2001:db8:1:3::/64' });
    expect((await verify('2001:db8:1:3::99')).status).toBe(200);
  });

  it.each([
    [
      { address: '2001:db8::/48', ttl: '1h' },
      'invalid_address',
      'is a /48, but grants are /64 wide (IPV6_PREFIX=64)',
    ],
    [
      { address: '203.0.113.0/24', ttl: '1h' },
      'invalid_address',
      'is a /24, but grants are /32 wide (IPV4_PREFIX=32)',
    ],
    [{ address: 'example.com', ttl: '1h' }, 'invalid_address', 'is not an IP address or CIDR'],
    [{ address: '203.0.113.7', ttl: 'forever' }, 'invalid_ttl', 'ttl "forever" is invalid'],
    [
      { address: '203.0.113.7', ttl: '1h', note: 'x'.repeat(201) },
      'invalid_note',
      'note is invalid',
    ],
  ])('refuses %j with 400', async (body, error, message) => {
    const response = await admin('POST', '/grants', body);
    expect(response.status).toBe(400);
    expect(json(response.body).error).toBe(error);
    expect(json(response.body).message).toContain(message);
    expect(await running.ipgate.redis.keys('ipgate:ip:*')).toEqual([]);
  });

  it('refuses a body that is not a JSON object', async () => {
    const response = await admin('POST', '/grants', ['203.0.113.7']);
    expect(response.status).toBe(400);
    expect(json(response.body).error).toBe('invalid_json');
  });

  it('lists every grant across SCAN pages', async () => {
    for (let index = 1; index <= 25; index++) {
      await admin('POST', '/grants', { address: `203.0.113.${index}`, ttl: '1h', user: 'bob' });
    }
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const page = json((await admin('GET', `/grants?count=10&cursor=${cursor}`)).body) as {
        grants: { grant: string; user: string; ttlSeconds: number }[];
        cursor: string;
      };
      for (const grant of page.grants) {
        expect(grant.user).toBe('bob');
        expect(grant.ttlSeconds).toBeGreaterThan(3500);
        seen.add(grant.grant);
      }
      cursor = page.cursor;
    } while (cursor !== '0');
    expect(seen.size).toBe(25);
  });

  it('refuses a bad cursor or page size', async () => {
    expect((await admin('GET', '/grants?cursor=abc')).status).toBe(400);
    expect((await admin('GET', '/grants?count=0')).status).toBe(400);
    expect((await admin('GET', '/grants?count=5000')).status).toBe(400);
  });

  it('revokes a grant, and /verify denies it at once despite the cache', async () => {
    await admin('POST', '/grants', { address: '198.51.100.7', ttl: '1h', user: 'alice' });
    expect((await verify('198.51.100.7')).status).toBe(200);
    expect((await verify('198.51.100.7')).status).toBe(200);

    const revoked = await admin('DELETE', '/grants/198.51.100.7');
    expect(revoked.status).toBe(200);
    expect(json(revoked.body)).toEqual({ status: 'revoked', grant: '198.51.100.7', user: 'alice' });
    expect((await verify('198.51.100.7')).status).toBe(403);
    expect((await admin('DELETE', '/grants/198.51.100.7')).status).toBe(404);
    expect((await admin('GET', '/grants/198.51.100.7')).status).toBe(404);
  });

  it('revokes an IPv6 grant named with its prefix, encoded or not', async () => {
    await admin('POST', '/grants', { address: '2001:db8:1:2::/64', ttl: '1h' });
    const encoded = encodeURIComponent('2001:db8:1:2::/64');
    expect((await admin('GET', `/grants/${encoded}`)).status).toBe(200);
    expect((await admin('DELETE', '/grants/2001:db8:1:2::/64')).status).toBe(200);
  });

  it('revokes every grant of a user and no one else’s', async () => {
    await admin('POST', '/grants', { address: '198.51.100.7', ttl: '1h', user: 'alice' });
    await admin('POST', '/grants', { address: '198.51.100.8', ttl: '1h', user: 'alice' });
    await admin('POST', '/grants', { address: '198.51.100.9', ttl: '1h', user: 'bob' });

    const response = await admin('DELETE', '/grants?user=alice');
    expect(response.status).toBe(200);
    const body = json(response.body) as { grants: string[] };
    expect(body.grants.sort()).toEqual(['198.51.100.7', '198.51.100.8']);
    expect(await running.ipgate.redis.keys('ipgate:ip:*')).toEqual(['ipgate:ip:198.51.100.9']);
    expect((await admin('DELETE', '/grants')).status).toBe(400);
  });

  it('records adds and revokes in the audit stream', async () => {
    await admin('POST', '/grants', {
      address: '198.51.100.7',
      ttl: '1h',
      user: 'alice',
      note: 'vpn',
    });
    await admin('DELETE', '/grants/198.51.100.7');
    const entries = await running.ipgate.redis.xrevrange('ipgate:audit', '+', '-');
    const fields = entries.map(([, flat]) => Object.fromEntries(pairs(flat)));
    expect(fields).toMatchObject([
      { action: 'revoke', grant: '198.51.100.7', user: 'alice', source: 'admin' },
      { action: 'grant', grant: '198.51.100.7', user: 'alice', source: 'admin', note: 'vpn' },
    ]);
  });
});

describe('admin API without ADMIN_TOKEN', () => {
  it('answers 404', async () => {
    const plain = await startIpgate({ REDIS_URL: running.redis.url });
    try {
      const response = await request(`${plain.url}/admin/grants`, {
        headers: [['Authorization', `Bearer ${TOKEN}`]],
      });
      expect(response.status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

function pairs(flat: string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let index = 0; index + 1 < flat.length; index += 2) {
    result.push([flat[index] as string, flat[index + 1] as string]);
  }
  return result;
}
