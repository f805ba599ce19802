import { describe, expect, it } from 'vitest';
import { grantFor } from '../src/grant.js';
import { type IpAddress, parseIpAddress } from '../src/ip-address.js';

function address(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (parsed === undefined) throw new Error(`bad test address ${text}`);
  return parsed;
}

const defaults = { ipv4Prefix: 32, ipv6Prefix: 64 };

describe('grantFor', () => {
  it.each([
    ['203.0.113.45', defaults, '203.0.113.45'],
    ['::ffff:203.0.113.45', defaults, '203.0.113.45'],
    ['203.0.113.45', { ipv4Prefix: 24, ipv6Prefix: 64 }, '203.0.113.0/24'],
    ['203.0.113.45', { ipv4Prefix: 16, ipv6Prefix: 64 }, '203.0.0.0/16'],
    ['203.0.113.45', { ipv4Prefix: 31, ipv6Prefix: 64 }, '203.0.113.44/31'],
    ['2001:db8:1:2::10', defaults, '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:AAAA:BBBB:CCCC:DDDD', defaults, '2001:db8:1:2::/64'],
    ['2001:db8:1:2::10', { ipv4Prefix: 32, ipv6Prefix: 128 }, '2001:db8:1:2::10'],
    ['2001:db8:1:2::10', { ipv4Prefix: 32, ipv6Prefix: 48 }, '2001:db8:1::/48'],
    ['2001:db8:1:2::10', { ipv4Prefix: 32, ipv6Prefix: 56 }, '2001:db8:1::/56'],
    ['2001:db8:1:ff02::10', { ipv4Prefix: 32, ipv6Prefix: 56 }, '2001:db8:1:ff00::/56'],
    ['2001:db8:1:2::10', { ipv4Prefix: 32, ipv6Prefix: 32 }, '2001:db8::/32'],
    ['fe80::1%eth0', defaults, 'fe80::/64'],
  ])('names the grant for %s with %j: %s', (text, widths, grant) => {
    expect(grantFor(address(text), widths)).toBe(grant);
  });

  it('gives every address of a privacy-rotating /64 the same grant', () => {
    const grants = [
      '2001:db8:1:2::10',
      '2001:db8:1:2:a1b2:c3d4:e5f6:789',
      '2001:db8:1:2:ffff::1',
    ].map((text) => grantFor(address(text), defaults));

    expect(new Set(grants)).toEqual(new Set(['2001:db8:1:2::/64']));
  });

  it('uses the IPv4 width for IPv4 and the IPv6 width for IPv6', () => {
    const widths = { ipv4Prefix: 24, ipv6Prefix: 128 };

    expect(grantFor(address('198.51.100.7'), widths)).toBe('198.51.100.0/24');
    expect(grantFor(address('2001:db8::7'), widths)).toBe('2001:db8::7');
  });
});
