import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

// Properties over hostile input, checked against a small reference model of the rules
// written here from the specification alone: it shares no code with src/.

let redis: RedisServer;
let ipgate: TestIpgate;

const RUNS = 150;

beforeAll(async () => {
  redis = await RedisServer.start();
  ipgate = await startIpgate({
    REDIS_URL: redis.url,
    WEBHOOK_SECRET: SECRET,
    STATIC_CIDRS: '192.0.2.0/24, 2001:db8:abcd::/48',
    LOG_LEVEL: 'warn',
  });
  for (const ip of ['198.51.100.1', '198.51.100.2', '2001:db8:1:2::10']) {
    const response = await webhook(JSON.stringify({ client_ip: ip, action: 'login' }));
    expect(response.status).toBe(200);
  }
});

afterAll(async () => {
  await ipgate.close();
  await redis.destroy();
});

// ---- The reference model -------------------------------------------------------------

/** What an X-Forwarded-For entry means: an address (family and bits), or nothing. */
interface Entry {
  readonly text: string;
  readonly address?: { readonly family: 4 | 6; readonly bits: bigint };
}

const MAX_TRUSTED_HOPS = 16;

function inPrefix(bits: bigint, width: number, network: bigint, length: number): boolean {
  return bits >> BigInt(width - length) === network >> BigInt(width - length);
}

const v4 = (a: number, b: number, c: number, d: number) =>
  (BigInt(a) << 24n) | (BigInt(b) << 16n) | (BigInt(c) << 8n) | BigInt(d);
const v6 = (...groups: number[]) => groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);

function trusted(address: NonNullable<Entry['address']>): boolean {
  const { family, bits } = address;
  if (family === 4) {
    return (
      inPrefix(bits, 32, v4(127, 0, 0, 0), 8) ||
      inPrefix(bits, 32, v4(10, 0, 0, 0), 8) ||
      inPrefix(bits, 32, v4(172, 16, 0, 0), 12) ||
      inPrefix(bits, 32, v4(192, 168, 0, 0), 16)
    );
  }
  return bits === 1n || inPrefix(bits, 128, v6(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7);
}

function isStatic({ family, bits }: NonNullable<Entry['address']>): boolean {
  if (family === 4) return inPrefix(bits, 32, v4(192, 0, 2, 0), 24);
  return inPrefix(bits, 128, v6(0x2001, 0xdb8, 0xabcd, 0, 0, 0, 0, 0), 48);
}

function isGranted({ family, bits }: NonNullable<Entry['address']>): boolean {
  if (family === 4) return bits === v4(198, 51, 100, 1) || bits === v4(198, 51, 100, 2);
  return inPrefix(bits, 128, v6(0x2001, 0xdb8, 1, 2, 0, 0, 0, 0), 64);
}

/** The expected status and X-Ipgate-Reason for a request from a trusted proxy. */
function model(entries: readonly Entry[] | undefined): { status: number; reason: string } {
  if (entries === undefined) return { status: 403, reason: 'no-forwarded-for' };
  for (let i = entries.length - 1, hop = 0; hop <= MAX_TRUSTED_HOPS; i--, hop++) {
    const address = entries[i]?.address;
    if (address === undefined) return { status: 403, reason: 'bad-forwarded-for' };
    if (i > 0 && trusted(address)) continue;
    if (isStatic(address)) return { status: 200, reason: 'static' };
    return isGranted(address)
      ? { status: 200, reason: 'grant' }
      : { status: 403, reason: 'no-grant' };
  }
  return { status: 403, reason: 'too-many-hops' };
}

// ---- Generators: addresses of known meaning, spelled the ways proxies write them ------

const octet = fc.integer({ min: 0, max: 255 });
const word = fc.integer({ min: 0, max: 0xffff });

const ipv4Bits = fc.oneof(
  fc.tuple(octet, octet).map(([c, d]) => v4(192, 0, 2, c ^ d)), // static
  fc.constantFrom(v4(198, 51, 100, 1), v4(198, 51, 100, 2), v4(198, 51, 100, 3)), // grants
  fc.tuple(octet, octet, octet).map(([b, c, d]) => v4(10, b, c, d)), // trusted
  fc.constantFrom(v4(127, 0, 0, 1), v4(172, 16, 5, 4), v4(192, 168, 1, 1)), // trusted
  fc.tuple(octet, octet, octet, octet).map(([a, b, c, d]) => v4(a, b, c, d)),
);

const ipv6Bits = fc.oneof(
  fc.array(word, { minLength: 5, maxLength: 5 }).map((w) => v6(0x2001, 0xdb8, 0xabcd, ...w)),
  fc.array(word, { minLength: 4, maxLength: 4 }).map((w) => v6(0x2001, 0xdb8, 1, 2, ...w)),
  fc.array(word, { minLength: 7, maxLength: 7 }).map((w) => v6(0xfd00, ...w)),
  fc.constant(1n),
  fc.array(word, { minLength: 7, maxLength: 7 }).map((w) => v6(0x2a00, ...w)),
);

function dotted(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => Number((bits >> shift) & 255n)).join('.');
}

function groupsOf(bits: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt(112 - 16 * i)) & 0xffffn));
}

/** Any valid spelling: case, leading zeros, one run of zero groups compressed. */
const ipv6Text = (bits: bigint) =>
  fc.tuple(fc.boolean(), fc.boolean(), fc.nat()).map(([upper, padded, pick]) => {
    const groups = groupsOf(bits).map((g) => {
      const hex = g.toString(16);
      const text = padded ? hex.padStart(4, '0') : hex;
      return upper ? text.toUpperCase() : text;
    });
    const zeros = groupsOf(bits)
      .map((g, i) => (g === 0 ? i : -1))
      .filter((i) => i >= 0);
    if (zeros.length === 0) return groups.join(':');
    const start = zeros[pick % zeros.length] as number;
    let end = start;
    while (end + 1 < 8 && groupsOf(bits)[end + 1] === 0) end++;
    return `${groups.slice(0, start).join(':')}::${groups.slice(end + 1).join(':')}`;
  });

const port = fc.integer({ min: 1, max: 65535 });

const ipv4Entry: fc.Arbitrary<Entry> = fc
  .tuple(ipv4Bits, fc.integer({ min: 0, max: 3 }), port)
  .map(([bits, form, p]) => {
    const text = [
      dotted(bits),
      `${dotted(bits)}:${p}`,
      `::ffff:${dotted(bits)}`,
      `[::ffff:${dotted(bits)}]:${p}`,
    ][form] as string;
    return { text, address: { family: 4, bits } };
  });

const ipv6Entry: fc.Arbitrary<Entry> = ipv6Bits.chain((bits) =>
  fc.tuple(ipv6Text(bits), fc.integer({ min: 0, max: 3 }), port).map(([text, form, p]) => ({
    text: [text, `[${text}]`, `[${text}]:${p}`, `${text}%eth0`][form] as string,
    address: { family: 6 as const, bits },
  })),
);

// Never an address: malformed numbers, words, and unicode that starts with a letter no
// address holds. No commas (they separate entries) and no control characters (HTTP).
const badEntry: fc.Arbitrary<Entry> = fc
  .oneof(
    fc.constantFrom(
      '',
      'unknown',
      '010.0.0.1',
      '203.0.113',
      '0xcb.0.113.7',
      '3405803783',
      '203.0.113.7.1',
      '999.1.1.1',
      '[2001:db8::1',
      '2001:db8::1::2',
      '198.51.100.1:99999',
      'fe80::1%',
      '::ffff:999.0.0.1',
    ),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => `x${s}`),
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `ü${s}`),
  )
  .map((text) => headerSafe(text).replaceAll(',', '_'))
  .map((text) => ({ text }));

const entry = fc.oneof(
  { weight: 3, arbitrary: ipv4Entry },
  { weight: 2, arbitrary: ipv6Entry },
  {
    weight: 1,
    arbitrary: badEntry,
  },
);
const trustedEntry = fc
  .oneof(fc.constantFrom('10.0.0.5', '127.0.0.1', '[::1]:443', '192.168.0.9:8080', 'fd00::7'))
  .map((text): Entry => {
    const bits: Record<string, [4 | 6, bigint]> = {
      '10.0.0.5': [4, v4(10, 0, 0, 5)],
      '127.0.0.1': [4, v4(127, 0, 0, 1)],
      '[::1]:443': [6, 1n],
      '192.168.0.9:8080': [4, v4(192, 168, 0, 9)],
      'fd00::7': [6, v6(0xfd00, 0, 0, 0, 0, 0, 0, 7)],
    };
    const [family, value] = bits[text] as [4 | 6, bigint];
    return { text, address: { family, bits: value } };
  });

/** A chain: entries, then often a run of trusted proxies, as a CDN and LB would add. */
const chain = fc
  .tuple(
    fc.array(entry, { minLength: 1, maxLength: 30 }),
    fc.array(trustedEntry, { maxLength: MAX_TRUSTED_HOPS + 3 }),
  )
  .map(([head, tail]) => [...head, ...tail]);

const separator = fc.constantFrom(',', ', ', ' ,\t', ',  ');

/** The text with every control character but tab (which HTTP refuses) made a space. */
function headerSafe(text: string): string {
  return [...text]
    .map((char) => {
      const code = char.codePointAt(0) ?? 0;
      return (code < 0x20 && code !== 9) || code === 0x7f ? ' ' : char;
    })
    .join('');
}

/** Sends raw bytes, so that unicode and odd spacing reach ipgate exactly as written. */
function rawVerify(lines: readonly string[]): Promise<{ status: number; reason: string }> {
  const { port: ipgatePort } = new URL(ipgate.url);
  const head = [
    'GET /verify HTTP/1.1',
    'Host: ipgate',
    'Connection: close',
    ...lines.map((line) => `X-Forwarded-For: ${line}`),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(ipgatePort), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const reason = /\r\nx-ipgate-reason: ([^\r]*)/i.exec(text)?.[1] ?? '';
      resolve({ status, reason });
    });
    // Written, not ended: Node drops a half-closed connection before an async answer.
    socket.write(Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'utf8'));
  });
}

/**
 * A Redis that answers late (a busy machine) gives 503 for a grant lookup: the only 5xx
 * allowed, and only where the model needed a lookup.
 */
function redisTolerant(
  actual: { status: number; reason: string },
  expected: { status: number; reason: string },
): { status: number; reason: string } {
  const lookup = expected.reason === 'grant' || expected.reason === 'no-grant';
  return actual.status === 503 && actual.reason === 'store-unavailable' && lookup
    ? expected
    : actual;
}

describe('X-Forwarded-For, whatever it holds', () => {
  it('decides exactly as the reference model does', async () => {
    await fc.assert(
      fc.asyncProperty(chain, separator, fc.nat(), async (entries, sep, split) => {
        // Sometimes split over two header lines, which Node joins with ", ".
        const texts = entries.map((e) => e.text);
        const at = entries.length > 1 ? 1 + (split % (entries.length - 1)) : 0;
        const [left, right] = [texts.slice(0, at).join(sep), texts.slice(at).join(sep)];
        const twoLines = split % 3 === 0 && left.trim() !== '' && right.trim() !== '';
        const lines = twoLines ? [left, right] : [texts.join(sep)];
        // Node trims a header value; an all-blank one is the same as no header.
        const expected = lines.join(', ').trim() === '' ? model(undefined) : model(entries);
        expect(redisTolerant(await rawVerify(lines), expected)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers every value with 200, 403 or (Redis down only) 503, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 2000 }).map(headerSafe),
        async (value) => {
          const { status, reason } = await rawVerify([value]);
          expect(status === 503 ? reason : status).toBeOneOf([200, 403, 'store-unavailable']);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---- Webhook bodies ----------------------------------------------------------------

function webhook(body: string, secret: string | null = SECRET) {
  const headers: [string, string][] =
    secret === null ? [] : [['Authorization', `Bearer ${secret}`]];
  return request(`${ipgate.url}/authentik/webhook`, {
    method: 'POST',
    headers,
    body,
  });
}

async function grantKeys(): Promise<string[]> {
  return (await ipgate.redis.keys('ipgate:ip:*')).sort();
}

const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
);
const hostileObject = fc.dictionary(
  fc.oneof(hostileKey, fc.string({ maxLength: 12 })),
  fc.jsonValue({ maxDepth: 4 }),
  {
    maxKeys: 8,
  },
);

describe('webhook bodies, whatever they hold', () => {
  it('never grants without the secret, whatever the body', async () => {
    const before = await grantKeys();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostileObject.map((o) => JSON.stringify(o)),
          fc.string({ unit: 'binary', maxLength: 500 }),
        ),
        fc.constantFrom(null, 'wrong-secret-0123456789', `${SECRET}x`, SECRET.slice(1)),
        async (body, secret) => {
          const response = await webhook(body, secret);
          expect(response.status).toBe(401);
        },
      ),
      { numRuns: RUNS },
    );
    expect(await grantKeys()).toEqual(before);
  });

  it('answers random JSON and bytes with 200 or 400 and grants nothing without a client IP', async () => {
    const before = await grantKeys();
    const noIp = hostileObject.map((o) => {
      const copy: Record<string, unknown> = JSON.parse(JSON.stringify(o));
      delete copy.client_ip;
      delete copy.ip;
      return JSON.stringify(copy);
    });
    const bytes = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('latin1'));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          noIp,
          bytes,
          fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
        ),
        async (body) => {
          const response = await webhook(body);
          expect([200, 400]).toContain(response.status);
          const answer = JSON.parse(response.body) as Record<string, unknown>;
          expect(answer.status === 'granted').toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
    expect(await grantKeys()).toEqual(before);
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it('grants exactly the model grant for a valid login, whatever else the body carries', async () => {
    const login = fc.record({
      address: fc.oneof(
        ipv4Bits.map((bits) => ({ family: 4 as const, bits })),
        ipv6Bits.map((bits) => ({ family: 6 as const, bits })),
      ),
      action: fc.constantFrom('login', 'authorize_application'),
      extra: hostileObject,
      filler: fc.oneof(
        fc.constant(''),
        fc.string({ unit: 'grapheme', maxLength: 2000 }),
        fc.constant('\u{1F600}'.repeat(12_000)),
      ),
    });
    await fc.assert(
      fc.asyncProperty(login, async ({ address, action, extra, filler }) => {
        const text =
          address.family === 4
            ? dotted(address.bits)
            : groupsOf(address.bits)
                .map((g) => g.toString(16))
                .join(':');
        const body = { ...extra, filler, client_ip: text, action, username: 'alice' };
        delete (body as Record<string, unknown>).created;
        delete (body as Record<string, unknown>).event_id;
        delete (body as Record<string, unknown>).user;
        delete (body as Record<string, unknown>).event_user_username;
        const response = await webhook(JSON.stringify(body));

        const expected =
          address.family === 4
            ? dotted(address.bits)
            : `${groupsOf((address.bits >> 64n) << 64n)
                .map((g) => g.toString(16))
                .join(':')}/64`;
        if (
          address.family === 4 &&
          (address.bits >> 28n === 14n ||
            address.bits >> 24n === 0n ||
            address.bits === 0xffffffffn)
        ) {
          // Multicast (224/4), "this network" (0/8), broadcast: not client addresses.
          expect(JSON.parse(response.body)).toMatchObject({ status: 'ignored' });
          return;
        }
        expect(response.status).toBe(200);
        const answer = JSON.parse(response.body) as { status: string; grant: string };
        expect(answer.status).toBe('granted');
        expect(normalise(answer.grant)).toBe(normalise(expected));
        expect(await ipgate.redis.exists(`ipgate:ip:${answer.grant}`)).toBe(1);
      }),
      { numRuns: 60 },
    );
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it('answers deeply nested JSON with 400, not a crash', async () => {
    for (const depth of [1000, 30_000]) {
      const response = await webhook(`${'['.repeat(depth)}${']'.repeat(depth)}`);
      expect(response.status).toBe(400);
      const nested = `{"client_ip":"198.51.100.9","x":${'{"a":'.repeat(depth / 10)}1${'}'.repeat(depth / 10)}}`;
      expect([200, 400]).toContain((await webhook(nested)).status);
    }
  });
});

// The model's IPv6 grant text is uncompressed; compare addresses, not spellings.
function normalise(grant: string): string {
  const [address = '', length] = grant.split('/');
  if (!address.includes(':')) return grant;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  const groups = tail === undefined ? left : [...left, ...zeros, ...right];
  return `${groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':')}/${length}`;
}
