import { describe, expect, it } from 'vitest';
import { type Cidr, formatCidr, parseCidr } from '../src/cidr.js';
import { CidrSet } from '../src/cidr-set.js';
import { type IpAddress, ipAddressFromWords, parseIpAddress } from '../src/ip-address.js';

function cidr(entry: string): Cidr {
  const parsed = parseCidr(entry);
  if (parsed === undefined) throw new Error(`bad test CIDR ${entry}`);
  return parsed;
}

function address(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (parsed === undefined) throw new Error(`bad test address ${text}`);
  return parsed;
}

function setOf(...entries: string[]): CidrSet {
  return new CidrSet(entries.map(cidr));
}

// Mulberry32: a small seeded generator, so a failure always reproduces.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// The naive matcher Traefik uses: compare the leading bits with every network in turn.
// Written with bit strings so it shares no code with the trie or with maskWords.
function bits(words: readonly number[]): string {
  return words.map((word) => word.toString(2).padStart(16, '0')).join('');
}

function naiveContains(cidrs: readonly Cidr[], client: IpAddress): boolean {
  const clientBits = bits(client.words);
  return cidrs.some(
    ({ network, length }) =>
      network.family === client.family &&
      bits(network.words).slice(0, length) === clientBits.slice(0, length),
  );
}

describe('CidrSet.contains', () => {
  // The reference allowlist (forward-auth.md §5.4).
  const allowlist = setOf('203.0.113.0/24', '2001:db8:abcd::/48', '192.0.2.10', 'fe80::/10');

  it.each([
    ['203.0.113.0', true],
    ['203.0.113.7', true],
    ['203.0.113.255', true],
    ['203.0.112.255', false],
    ['203.0.114.0', false],
    ['198.51.100.7', false],
    ['192.0.2.10', true],
    ['192.0.2.11', false],
    ['192.0.2.9', false],
    ['2001:db8:abcd::', true],
    ['2001:db8:abcd:12::5', true],
    ['2001:DB8:ABCD::0005', true],
    ['2001:db8:abcd:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db8:abce::', false],
    ['2001:db8:abcc:ffff::1', false],
    ['fe80::1', true],
    ['fe80::1%eth0', true],
    ['febf:ffff::1', true],
    ['fec0::1', false],
    ['::ffff:203.0.113.7', true],
    ['::ffff:cb00:7107', true],
    ['::203.0.113.7', false],
    ['64:ff9b::203.0.113.7', false],
    ['::', false],
    ['0.0.0.0', false],
  ])('reference allowlist: %s → %s', (text, expected) => {
    expect(allowlist.contains(address(text))).toBe(expected);
  });

  it('contains nothing when empty', () => {
    const empty = new CidrSet([]);

    expect(empty.size).toBe(0);
    expect(empty.contains(address('203.0.113.7'))).toBe(false);
    expect(empty.contains(address('2001:db8::1'))).toBe(false);
    expect(empty.contains(address('0.0.0.0'))).toBe(false);
    expect(empty.contains(address('::'))).toBe(false);
  });

  it.each([
    ['0.0.0.0', true],
    ['203.0.113.7', true],
    ['255.255.255.255', true],
    ['::ffff:203.0.113.7', true],
    ['::', false],
    ['2001:db8::1', false],
    ['::203.0.113.7', false],
  ])('0.0.0.0/0 matches every IPv4 address and no IPv6 one: %s → %s', (text, expected) => {
    expect(setOf('0.0.0.0/0').contains(address(text))).toBe(expected);
  });

  it.each([
    ['::', true],
    ['2001:db8::1', true],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['::203.0.113.7', true],
    ['203.0.113.7', false],
    ['0.0.0.0', false],
    ['::ffff:203.0.113.7', false],
  ])('::/0 never matches an IPv4 client (Go and Traefik): %s → %s', (text, expected) => {
    expect(setOf('::/0').contains(address(text))).toBe(expected);
  });

  it.each([
    ['203.0.113.9', true],
    ['::ffff:203.0.113.9', true],
    ['203.0.114.9', false],
    ['::203.0.113.9', false],
  ])('::ffff:203.0.113.0/120 matches IPv4 clients of 203.0.113.0/24: %s → %s', (text, expected) => {
    expect(setOf('::ffff:203.0.113.0/120').contains(address(text))).toBe(expected);
  });

  it.each([
    ['203.0.113.7', true],
    ['203.0.113.6', false],
    ['203.0.113.8', false],
    ['::ffff:203.0.113.7', true],
  ])('a /32 holds exactly one address: %s → %s', (text, expected) => {
    expect(setOf('203.0.113.7/32').contains(address(text))).toBe(expected);
  });

  it.each([
    ['2001:db8::7', true],
    ['2001:db8::6', false],
    ['2001:db8::8', false],
    ['2001:db8:0:0:0:0:0:7', true],
  ])('a /128 holds exactly one address: %s → %s', (text, expected) => {
    expect(setOf('2001:db8::7/128').contains(address(text))).toBe(expected);
  });

  it.each([
    ['203.0.113.7/24', '203.0.113.200', true],
    ['203.0.113.7/24', '203.0.112.7', false],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['172.16.0.0/12', '172.15.255.255', false],
    ['128.0.0.0/1', '255.0.0.1', true],
    ['128.0.0.0/1', '127.255.255.255', false],
    ['203.0.113.128/25', '203.0.113.127', false],
    ['203.0.113.128/25', '203.0.113.128', true],
    ['198.51.0.0/16', '198.51.255.255', true],
    ['198.51.0.0/16', '198.52.0.0', false],
    ['198.50.0.0/15', '198.51.0.1', true],
    ['198.50.0.0/15', '198.49.255.255', false],
    ['198.51.128.0/17', '198.51.128.0', true],
    ['198.51.128.0/17', '198.51.127.255', false],
    ['2001::/16', '2001:ffff::1', true],
    ['2001::/16', '2002::', false],
    ['2001:8000::/17', '2001:7fff::1', false],
    ['fc00::/7', 'fdff::1', true],
    ['fc00::/7', 'fe00::1', false],
    ['2001:db8:1:2::/64', '2001:db8:1:2:ffff::1', true],
    ['2001:db8:1:2::/64', '2001:db8:1:3::1', false],
    ['2001:db8::/127', '2001:db8::1', true],
    ['2001:db8::/127', '2001:db8::2', false],
    ['8000::/1', 'ffff::', true],
    ['8000::/1', '7fff::', false],
  ])('%s: %s → %s', (entry, text, expected) => {
    expect(setOf(entry).contains(address(text))).toBe(expected);
  });

  const nested = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32'];
  const nested6 = ['2001:db8::/32', '2001:db8:1::/48', '2001:db8:1:2::/64', '2001:db8:1:2::3'];

  it.each([
    ['broad first', [...nested, ...nested6]],
    ['narrow first', [...nested, ...nested6].reverse()],
    [
      'interleaved',
      [nested[2], nested6[0], nested[0], nested6[3], nested[3], nested6[1], nested[1], nested6[2]],
    ],
  ] as const)('gives nested networks the same answers added %s', (_order, entries) => {
    const set = setOf(...(entries as readonly string[]));

    expect(set.contains(address('10.200.0.1'))).toBe(true);
    expect(set.contains(address('10.1.2.3'))).toBe(true);
    expect(set.contains(address('10.1.9.9'))).toBe(true);
    expect(set.contains(address('11.0.0.0'))).toBe(false);
    expect(set.contains(address('2001:db8:ffff::1'))).toBe(true);
    expect(set.contains(address('2001:db8:1:2::3'))).toBe(true);
    expect(set.contains(address('2001:db9::1'))).toBe(false);
  });

  it.each([
    ['narrow first', ['203.0.113.7/32', '203.0.113.0/24']],
    ['broad first', ['203.0.113.0/24', '203.0.113.7/32']],
  ])('keeps the broader network of an overlapping pair added %s', (_order, entries) => {
    const set = setOf(...entries);

    expect(set.contains(address('203.0.113.7'))).toBe(true);
    expect(set.contains(address('203.0.113.8'))).toBe(true);
    expect(set.contains(address('203.0.112.7'))).toBe(false);
  });

  it('keeps sibling networks apart', () => {
    const set = setOf('203.0.113.0/25', '203.0.113.192/26');

    expect(set.contains(address('203.0.113.127'))).toBe(true);
    expect(set.contains(address('203.0.113.128'))).toBe(false);
    expect(set.contains(address('203.0.113.191'))).toBe(false);
    expect(set.contains(address('203.0.113.192'))).toBe(true);
  });

  it('matches the same addresses when a network is added twice', () => {
    const set = setOf('203.0.113.0/24', '203.0.113.0/24', '203.0.113.7/24');

    expect(set.size).toBe(3);
    expect(set.contains(address('203.0.113.99'))).toBe(true);
    expect(set.contains(address('203.0.114.99'))).toBe(false);
  });

  it('adds /0 beside narrower networks in either order', () => {
    for (const entries of [
      ['0.0.0.0/0', '203.0.113.0/24'],
      ['203.0.113.0/24', '0.0.0.0/0'],
    ]) {
      const set = setOf(...entries);

      expect(set.contains(address('198.51.100.7'))).toBe(true);
      expect(set.contains(address('2001:db8::1'))).toBe(false);
    }
  });

  it('counts the networks it was given', () => {
    expect(setOf('203.0.113.0/24', '2001:db8::/32', '192.0.2.10').size).toBe(3);
  });

  it('reads the networks from any iterable, once', () => {
    function* generate(): Generator<Cidr> {
      yield cidr('203.0.113.0/24');
      yield cidr('2001:db8::/32');
    }
    const set = new CidrSet(generate());

    expect(set.size).toBe(2);
    expect(set.contains(address('2001:db8::1'))).toBe(true);
  });
});

describe('CidrSet against a naive linear matcher', () => {
  const next = random(0x1ca7e);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const integer = (below: number): number => Math.floor(next() * below);

  // Few distinct high bits, so networks nest, overlap and neighbour each other often.
  function randomWords(family: 4 | 6): number[] {
    if (family === 4) return [pick([0x0a00, 0x0a01, 0xac10, 0xc0a8, 0xcb00]), integer(0x10000)];
    return [
      pick([0x2001, 0xfd00, 0xfe80]),
      pick([0, 0xdb8]),
      pick([0, 1, integer(0x10000)]),
      pick([0, 2, integer(0x10000)]),
      ...Array.from({ length: 4 }, () => pick([0, 1, integer(0x10000)])),
    ];
  }

  function randomCidr(): Cidr {
    const family = next() < 0.5 ? 4 : 6;
    // Mostly narrow networks, with a few broad ones that swallow many narrow ones.
    const broad = next() < 0.01;
    const length =
      family === 4
        ? broad
          ? 17 + integer(7)
          : 24 + integer(9)
        : broad
          ? 33 + integer(23)
          : 56 + integer(73);
    return cidr(`${ipAddressFromWords(family, randomWords(family)).text}/${length}`);
  }

  // Half the lookups fall near a network of the set (its first address with random low
  // bits), the rest anywhere in the same few high ranges.
  function randomClient(cidrs: readonly Cidr[]): IpAddress {
    if (next() < 0.5) {
      const { network } = pick(cidrs);
      const words = network.words.map((word, index) =>
        index < network.words.length - 1 || next() < 0.5 ? word : integer(0x10000),
      );
      return ipAddressFromWords(network.family, words);
    }
    const family = next() < 0.5 ? 4 : 6;
    return ipAddressFromWords(family, randomWords(family));
  }

  const cidrs = Array.from({ length: 3000 }, randomCidr);
  const clients = Array.from({ length: 5000 }, () => randomClient(cidrs));
  const expected = clients.map((client) => naiveContains(cidrs, client));

  it.each([4, 6] as const)('draws IPv%i lookups that both match and miss', (family) => {
    const outcomes = expected.filter((_, i) => clients[i]?.family === family);
    const matches = outcomes.filter(Boolean).length;

    expect(matches).toBeGreaterThan(400);
    expect(outcomes.length - matches).toBeGreaterThan(400);
  });

  it('agrees on every lookup for 3000 random networks', () => {
    const set = new CidrSet(cidrs);
    const disagreements = clients.filter((client, i) => set.contains(client) !== expected[i]);

    expect(disagreements.map((client) => client.text)).toEqual([]);
  });

  it('agrees whatever order the networks are added in', () => {
    const shuffled = [...cidrs].sort(() => next() - 0.5);
    const reversed = new CidrSet([...cidrs].reverse());
    const set = new CidrSet(shuffled);

    for (const [i, client] of clients.entries()) {
      expect(set.contains(client), `${client.text}`).toBe(expected[i]);
      expect(reversed.contains(client), `${client.text}`).toBe(expected[i]);
    }
  });

  it('agrees on the first and last address of each network and on their neighbours', () => {
    const set = new CidrSet(cidrs);

    for (const network of cidrs.slice(0, 250)) {
      const first = network.network;
      const last = lastAddress(first, network.length);
      const neighbours = [step(first, -1), step(last, 1)].filter((a) => a !== undefined);

      expect(set.contains(first), formatCidr(network)).toBe(true);
      expect(set.contains(last), `${formatCidr(network)} last`).toBe(true);
      for (const neighbour of neighbours) {
        expect(set.contains(neighbour), neighbour.text).toBe(naiveContains(cidrs, neighbour));
      }
    }
  });
});

function lastAddress(network: IpAddress, length: number): IpAddress {
  const words = network.words.map((word, index) => {
    const kept = Math.min(Math.max(length - index * 16, 0), 16);
    return kept === 16 ? word : word | (0xffff >>> kept);
  });
  return ipAddressFromWords(network.family, words);
}

/** The next (+1) or previous (-1) address; undefined past either end of the family. */
function step(address: IpAddress, delta: 1 | -1): IpAddress | undefined {
  const words = [...address.words];
  for (let i = words.length - 1; i >= 0; i--) {
    const word = (words[i] ?? 0) + delta;
    words[i] = word & 0xffff;
    if (word >= 0 && word <= 0xffff) return ipAddressFromWords(address.family, words);
  }
  return undefined;
}
