import { describe, expect, it } from 'vitest';
import { formatCidr, parseCidr } from '../src/cidr.js';
import { parsePlainIpAddress } from '../src/ip-address.js';

describe('parseCidr', () => {
  it.each([
    ['203.0.113.0/24', 4, '203.0.113.0/24'],
    ['0.0.0.0/0', 4, '0.0.0.0/0'],
    ['203.0.113.7/32', 4, '203.0.113.7/32'],
    ['2001:db8::/32', 6, '2001:db8::/32'],
    ['::/0', 6, '::/0'],
    ['2001:db8::1/128', 6, '2001:db8::1/128'],
    ['2001:DB8:ABCD::/48', 6, '2001:db8:abcd::/48'],
    ['fe80::/10', 6, 'fe80::/10'],
    ['fc00::/7', 6, 'fc00::/7'],
  ])('reads %j as IPv%i %j', (entry, family, text) => {
    const cidr = parseCidr(entry);

    expect(cidr?.network.family).toBe(family);
    expect(cidr && formatCidr(cidr)).toBe(text);
  });

  it.each([
    ['203.0.113.7', '203.0.113.7/32'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1/128'],
    ['::ffff:203.0.113.7', '203.0.113.7/32'],
    ['::203.0.113.7', '::cb00:7107/128'],
  ])('reads the bare address %j as one address, %j', (entry, text) => {
    const cidr = parseCidr(entry);

    expect(cidr && formatCidr(cidr)).toBe(text);
  });

  it.each([
    ['203.0.113.7/24', '203.0.113.0/24'],
    ['203.0.113.255/25', '203.0.113.128/25'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['255.255.255.255/0', '0.0.0.0/0'],
    ['2001:db8:1:2:3:4:5:6/64', '2001:db8:1:2::/64'],
    ['2001:db8:abcd:12::5/48', '2001:db8:abcd::/48'],
    ['fe80::1/10', 'fe80::/10'],
    ['2001:db8::1/0', '::/0'],
  ])('clears the host bits of %j: %j', (entry, text) => {
    const cidr = parseCidr(entry);

    expect(cidr && formatCidr(cidr)).toBe(text);
  });

  it.each([
    ['::ffff:203.0.113.0/120', '203.0.113.0/24'],
    ['::ffff:203.0.113.9/120', '203.0.113.0/24'],
    ['::ffff:cb00:7100/120', '203.0.113.0/24'],
    ['::ffff:203.0.113.7/128', '203.0.113.7/32'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
  ])('reads the v4-mapped network %j as the IPv4 network %j', (entry, text) => {
    const cidr = parseCidr(entry);

    expect(cidr?.network.family).toBe(4);
    expect(cidr && formatCidr(cidr)).toBe(text);
  });

  it.each([
    ['::ffff:203.0.113.0/95', '::fffe:0:0/95'],
    ['::ffff:203.0.113.0/24', '::/24'],
    ['::203.0.113.0/120', '::cb00:7100/120'],
    ['64:ff9b::203.0.113.0/120', '64:ff9b::cb00:7100/120'],
  ])('keeps %j an IPv6 network: %j', (entry, text) => {
    const cidr = parseCidr(entry);

    expect(cidr?.network.family).toBe(6);
    expect(cidr && formatCidr(cidr)).toBe(text);
  });

  it('gives a network the canonical words of its first address', () => {
    expect(parseCidr('203.0.113.77/24')).toEqual({
      network: parsePlainIpAddress('203.0.113.0'),
      length: 24,
    });
  });

  it.each([
    ['an IPv4 length over 32', '203.0.113.0/33'],
    ['an IPv6 length over 128', '2001:db8::/129'],
    ['a length with a leading zero', '203.0.113.0/024'],
    ['an IPv6 length with a leading zero', '2001:db8::/032'],
    ['a negative length', '203.0.113.0/-1'],
    ['a plus sign', '203.0.113.0/+24'],
    ['an empty length', '203.0.113.0/'],
    ['an empty IPv6 length', '2001:db8::/'],
    ['a four-digit length', '2001:db8::/1000'],
    ['a netmask', '203.0.113.0/255.255.255.0'],
    ['two slashes', '203.0.113.0/24/8'],
    ['a hex length', '2001:db8::/0x20'],
    ['a zone', 'fe80::1%eth0'],
    ['a zone before the length', 'fe80::%eth0/10'],
    ['a zone after the length', 'fe80::/10%eth0'],
    ['an escaped zone', 'fe80::%25eth0/10'],
    ['an IPv4 leading zero', '010.0.0.0/8'],
    ['shorthand', '10/8'],
    ['three octets', '10.0.0/24'],
    ['a bad IPv6 address', '2001:db8:::/48'],
    ['brackets', '[2001:db8::]/32'],
    ['a port', '203.0.113.7:80'],
    ['no address', '/24'],
    ['a word', 'localhost'],
    ['empty', ''],
    ['spaces', ' 203.0.113.0/24'],
  ])('refuses %s: %j', (_name, entry) => {
    expect(parseCidr(entry)).toBeUndefined();
  });
});

describe('formatCidr', () => {
  it.each([['203.0.113.0/24'], ['0.0.0.0/0'], ['2001:db8::/32'], ['::/0'], ['fe80::1/128']])(
    'writes %j back as it was read',
    (text) => {
      const cidr = parseCidr(text);

      expect(cidr && formatCidr(cidr)).toBe(text);
    },
  );
});
