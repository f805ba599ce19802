import { describe, expect, it } from 'vitest';
import { parseCidr } from '../src/cidr.js';
import { CidrSet } from '../src/cidr-set.js';
import { MAX_TRUSTED_HOPS, resolveClientIp } from '../src/client-ip.js';

function cidrs(...entries: string[]): CidrSet {
  return new CidrSet(
    entries.map((entry) => {
      const cidr = parseCidr(entry);
      if (cidr === undefined) throw new Error(`bad test CIDR ${entry}`);
      return cidr;
    }),
  );
}

// The reference decision table (forward-auth.md §5.4): allowlist A, and a proxy at
// 127.0.0.1 that is the only trusted address unless a row says otherwise.
const allowlist = cidrs('203.0.113.0/24', '2001:db8:abcd::/48', '192.0.2.10', 'fe80::/10');
const proxyOnly = cidrs('127.0.0.1');
const withBalancer = cidrs('127.0.0.1', '10.0.0.0/8');

function decide(forwardedFor: string | undefined, trusted = proxyOnly, peer = '127.0.0.1') {
  const resolved = resolveClientIp(peer, forwardedFor, trusted);
  if (!resolved.ok) return resolved.problem;
  return allowlist.contains(resolved.address) ? 'allow' : 'deny';
}

describe('resolveClientIp against the reference decision table', () => {
  it.each([
    ['1', '203.0.113.7', 'allow'],
    ['2', '198.51.100.7', 'deny'],
    ['3 (single IP is a /32)', '192.0.2.10', 'allow'],
    ['3 (next address)', '192.0.2.11', 'deny'],
    ['4 (hextet leading zeros)', '2001:db8:abcd:12::5', 'allow'],
    ['4 (upper case)', '2001:DB8:ABCD::0005', 'allow'],
    ['5 (v4-mapped dotted)', '::ffff:203.0.113.7', 'allow'],
    ['5 (v4-mapped hex)', '::ffff:cb00:7107', 'allow'],
    ['6 (zone)', 'fe80::1%eth0', 'allow'],
    ['6 (escaped zone)', 'fe80::1%25eth0', 'allow'],
    ['6 (bracketed with zone and port)', '[fe80::1%eth0]:1234', 'allow'],
    ['7 (IPv4 with port)', '203.0.113.7:51234', 'allow'],
    ['7 (bracketed IPv6 with port)', '[2001:db8:abcd::1]:8443', 'allow'],
    ['8 (unbracketed IPv6 is never host:port)', '2001:db8:abcd::1', 'allow'],
    ['9 (spoofed left entry)', '10.0.0.1, 198.51.100.7', 'deny'],
    ['10 (allowed left entry, client on the right)', '203.0.113.7, 198.51.100.7', 'deny'],
    ['15 (space and tab)', '203.0.113.7 ,\t198.51.100.7', 'deny'],
    ['15 (no space)', '203.0.113.7,198.51.100.7', 'deny'],
    ['18 (garbage rightmost is not skipped)', '203.0.113.7, garbage', 'bad-forwarded-for'],
    ['21 (IPv4-compatible is IPv6)', '::203.0.113.7', 'deny'],
    ['21 (NAT64 is IPv6)', '64:ff9b::203.0.113.7', 'deny'],
  ])('row %s: %j → %s', (_row, forwardedFor, expected) => {
    expect(decide(forwardedFor)).toBe(expected);
  });

  it('row 11: skips a trusted load balancer', () => {
    expect(decide('203.0.113.7, 10.0.0.5', withBalancer)).toBe('allow');
  });

  it('row 12: stops at the first untrusted entry from the right', () => {
    expect(decide('203.0.113.7, 198.51.100.66, 10.0.0.5', withBalancer)).toBe('deny');
  });

  it('row 13: takes the leftmost entry when every entry is trusted', () => {
    const resolved = resolveClientIp('127.0.0.1', '10.0.0.9, 10.0.0.5', withBalancer);
    expect(resolved).toMatchObject({ ok: true, address: { text: '10.0.0.9' } });
    expect(decide('10.0.0.9, 10.0.0.5', withBalancer)).toBe('deny');
  });

  it('row 14: reads two header lines as one list (Node joins them with ", ")', () => {
    expect(decide('198.51.100.7, 203.0.113.7')).toBe('allow');
  });

  it('row 16: denies a request without X-Forwarded-For even from an allowed peer', () => {
    const trusted = cidrs('172.18.0.0/16');
    expect(resolveClientIp('172.18.0.2', undefined, trusted)).toEqual({
      ok: false,
      problem: 'no-forwarded-for',
    });
  });

  it.each(['', ' ', ','])('row 17: denies X-Forwarded-For %j', (forwardedFor) => {
    expect(decide(forwardedFor)).not.toBe('allow');
  });

  it.each(['unknown', 'not-an-ip'])('row 17: denies X-Forwarded-For %j', (forwardedFor) => {
    expect(decide(forwardedFor)).toBe('bad-forwarded-for');
  });

  it.each(['010.0.0.1', '203.0.113', '0xcb.0.113.7', '3405803783', '203.0.113.7.1', '999.1.1.1'])(
    'row 19: refuses the non-strict address %j',
    (forwardedFor) => {
      expect(decide(forwardedFor)).toBe('bad-forwarded-for');
    },
  );

  it('row 28: decides a 200-entry chain by its rightmost untrusted entry', () => {
    const chain = [
      ...Array.from({ length: 199 }, (_, i) => `198.51.100.${i % 250}`),
      '203.0.113.7',
    ];
    expect(decide(chain.join(', '))).toBe('allow');
  });

  it('row 28: denies a chain padded with more trusted hops than it will walk', () => {
    const padding = Array.from({ length: MAX_TRUSTED_HOPS + 1 }, () => '10.0.0.5');
    expect(decide(['203.0.113.7', ...padding].join(', '), withBalancer)).toBe('too-many-hops');
  });

  it('walks up to the hop limit', () => {
    const padding = Array.from({ length: MAX_TRUSTED_HOPS }, () => '10.0.0.5');
    expect(decide(['203.0.113.7', ...padding].join(', '), withBalancer)).toBe('allow');
  });
});

describe('resolveClientIp and the socket peer', () => {
  it('denies when the peer is not a trusted proxy, whatever the header says', () => {
    expect(resolveClientIp('198.51.100.7', '203.0.113.7', proxyOnly)).toEqual({
      ok: false,
      problem: 'untrusted-peer',
    });
  });

  it('denies when the peer is unknown', () => {
    expect(resolveClientIp(undefined, '203.0.113.7', proxyOnly)).toMatchObject({ ok: false });
  });

  it('accepts a v4-mapped peer from a dual-stack socket', () => {
    expect(resolveClientIp('::ffff:127.0.0.1', '203.0.113.7', proxyOnly)).toMatchObject({
      ok: true,
    });
  });

  it('accepts a link-local peer with a zone id', () => {
    const trusted = cidrs('fe80::/10');
    expect(resolveClientIp('fe80::1%eth0', '203.0.113.7', trusted)).toMatchObject({ ok: true });
  });

  it('denies an empty entry between real ones', () => {
    expect(decide('203.0.113.7, , 10.0.0.5', withBalancer)).toBe('bad-forwarded-for');
  });

  it('returns the canonical client address', () => {
    expect(resolveClientIp('127.0.0.1', '[2001:DB8:0:0::1]:443', proxyOnly)).toEqual({
      ok: true,
      address: { family: 6, words: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], text: '2001:db8::1' },
    });
  });
});
