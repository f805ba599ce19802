import { describe, expect, it } from 'vitest';
import {
  addressWidth,
  type IpAddress,
  ipAddressFromWords,
  isIpv4Mapped,
  isNonClientAddress,
  maskAddress,
  parseIpAddress,
  parsePlainIpAddress,
} from '../src/ip-address.js';

function address(text: string): IpAddress {
  const parsed = parsePlainIpAddress(text);
  if (parsed === undefined) throw new Error(`bad test address ${text}`);
  return parsed;
}

describe('parseIpAddress as proxies write addresses', () => {
  it.each([
    ['plain IPv4', '203.0.113.7', 4, '203.0.113.7'],
    ['IPv4 with a port', '203.0.113.7:51234', 4, '203.0.113.7'],
    ['IPv4 with port 0', '203.0.113.7:0', 4, '203.0.113.7'],
    ['IPv4 with port 65535', '203.0.113.7:65535', 4, '203.0.113.7'],
    ['bracketed IPv4 with a port, as Go splits it', '[203.0.113.7]:80', 4, '203.0.113.7'],
    ['surrounding spaces and tabs', ' \t203.0.113.7 ', 4, '203.0.113.7'],
    ['unbracketed IPv6, never host:port', '2001:db8:abcd::1', 6, '2001:db8:abcd::1'],
    ['unbracketed IPv6 ending in a port-like group', '2001:db8::8443', 6, '2001:db8::8443'],
    ['bracketed IPv6', '[2001:db8::1]', 6, '2001:db8::1'],
    ['bracketed IPv6 with a port', '[2001:db8::1]:8443', 6, '2001:db8::1'],
    ['a zone', 'fe80::1%eth0', 6, 'fe80::1'],
    ['a numeric zone', 'fe80::1%2', 6, 'fe80::1'],
    ['a URL-escaped zone', 'fe80::1%25eth0', 6, 'fe80::1'],
    ['bracketed with zone and port', '[fe80::1%eth0]:1234', 6, 'fe80::1'],
    ['v4-mapped dotted', '::ffff:203.0.113.7', 4, '203.0.113.7'],
    ['v4-mapped upper case', '::FFFF:203.0.113.7', 4, '203.0.113.7'],
    ['v4-mapped hex', '::ffff:cb00:7107', 4, '203.0.113.7'],
    ['v4-mapped written out', '0:0:0:0:0:ffff:cb00:7107', 4, '203.0.113.7'],
    ['v4-mapped bracketed with a port', '[::ffff:203.0.113.7]:443', 4, '203.0.113.7'],
    ['v4-mapped with a zone', '::ffff:203.0.113.7%eth0', 4, '203.0.113.7'],
    ['v4-compatible, which stays IPv6', '::203.0.113.7', 6, '::cb00:7107'],
    ['NAT64, which stays IPv6', '64:ff9b::203.0.113.7', 6, '64:ff9b::cb00:7107'],
    ['v4-translated, which stays IPv6', '::ffff:0:203.0.113.7', 6, '::ffff:0:cb00:7107'],
    ['upper case and zero groups', '2001:DB8:0:0:0:0:0:1', 6, '2001:db8::1'],
    [
      'leading zeros inside hextets',
      '2001:0db8:abcd:0012:0000:0000:0000:0005',
      6,
      '2001:db8:abcd:12::5',
    ],
  ])('reads %s: %j', (_name, input, family, text) => {
    expect(parseIpAddress(input)).toMatchObject({ family, text });
  });

  it.each([
    ['empty', ''],
    ['blank', '  '],
    ['a word', 'unknown'],
    ['an IPv4 leading zero', '010.0.0.1'],
    ['an IPv4 leading zero in the last octet', '203.0.113.07'],
    ['three octets', '203.0.113'],
    ['two octets (shorthand)', '127.1'],
    ['hex octets', '0xcb.0.113.7'],
    ['one hex number', '0xcb007107'],
    ['an integer', '3405803783'],
    ['five octets', '203.0.113.7.1'],
    ['an octet over 255', '999.1.1.1'],
    ['256', '256.0.0.1'],
    ['a negative octet', '-1.2.3.4'],
    ['a CIDR', '203.0.113.0/24'],
    ['a list', '203.0.113.7, 198.51.100.7'],
    ['a port over 65535', '203.0.113.7:65536'],
    ['a six-digit port', '203.0.113.7:000080'],
    ['an empty port', '203.0.113.7:'],
    ['a named port', '203.0.113.7:http'],
    ['two ports', '203.0.113.7:80:90'],
    ['a zone on IPv4', '203.0.113.7%eth0'],
    ['a five-digit hextet', '2001:db8::00001'],
    ['two double colons', '2001:db8::1::2'],
    ['nine groups', '1:2:3:4:5:6:7:8:9'],
    ['seven groups', '1:2:3:4:5:6:7'],
    ['a non-hex group', 'g::1'],
    ['a bad embedded IPv4', '::ffff:203.0.113.256'],
    ['an embedded IPv4 with a leading zero', '::ffff:203.0.113.07'],
    ['an unclosed bracket', '[2001:db8::1'],
    ['junk after the bracket', '[2001:db8::1]x'],
    ['an empty bracketed port', '[2001:db8::1]:'],
    ['a bracketed port over 65535', '[2001:db8::1]:65536'],
    ['empty brackets', '[]'],
    ['an empty zone', 'fe80::1%'],
    ['an empty escaped zone', 'fe80::1%25'],
  ])('refuses %s: %j', (_name, input) => {
    expect(parseIpAddress(input)).toBeUndefined();
  });

  it('returns the address bits as 16-bit words', () => {
    expect(parseIpAddress('203.0.113.7')).toEqual({
      family: 4,
      words: [0xcb00, 0x7107],
      text: '203.0.113.7',
    });
    expect(parseIpAddress('[2001:db8:1:2::10]:443')).toEqual({
      family: 6,
      words: [0x2001, 0xdb8, 1, 2, 0, 0, 0, 0x10],
      text: '2001:db8:1:2::10',
    });
  });

  it('gives a v4-mapped address the same bits as the IPv4 address', () => {
    expect(parseIpAddress('::ffff:203.0.113.7')).toEqual(parseIpAddress('203.0.113.7'));
    expect(parseIpAddress('::ffff:cb00:7107')).toEqual(parseIpAddress('203.0.113.7'));
  });
});

describe('parsePlainIpAddress as configuration and Authentik write addresses', () => {
  it.each([
    ['203.0.113.7', 4, '203.0.113.7'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['2001:DB8::1', 6, '2001:db8::1'],
    ['::', 6, '::'],
    ['::ffff:203.0.113.7', 4, '203.0.113.7'],
    ['::ffff:cb00:7107', 4, '203.0.113.7'],
    ['::203.0.113.7', 6, '::cb00:7107'],
  ])('reads %j', (input, family, text) => {
    expect(parsePlainIpAddress(input)).toMatchObject({ family, text });
  });

  it.each([
    ['a port', '203.0.113.7:80'],
    ['brackets', '[2001:db8::1]'],
    ['brackets and a port', '[2001:db8::1]:443'],
    ['a zone', 'fe80::1%eth0'],
    ['an escaped zone', 'fe80::1%25eth0'],
    ['a leading space', ' 203.0.113.7'],
    ['a trailing newline', '203.0.113.7\n'],
    ['an IPv4 leading zero', '010.0.0.1'],
    ['shorthand', '127.1'],
    ['an integer', '3405803783'],
    ['hex', '0xcb007107'],
    ['a five-digit hextet', '2001:db8::00001'],
    ['junk', 'not-an-ip'],
    ['empty', ''],
  ])('refuses %s: %j', (_name, input) => {
    expect(parsePlainIpAddress(input)).toBeUndefined();
  });
});

describe('canonical address text (dotted IPv4, RFC 5952 lowercase IPv6)', () => {
  it.each([
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8::0:1', '2001:db8::1'],
    ['FE80::ABCD:0012', 'fe80::abcd:12'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['2001:db8::', '2001:db8::'],
  ])('writes %j as %j', (input, text) => {
    expect(parseIpAddress(input)?.text).toBe(text);
    expect(parsePlainIpAddress(input)?.text).toBe(text);
  });

  it.each([
    [4, [0xcb00, 0x7107], '203.0.113.7'],
    [4, [0, 0], '0.0.0.0'],
    [4, [0xffff, 0xffff], '255.255.255.255'],
    [6, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    [6, [0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [6, [0xfe80, 0, 0, 0, 0xabcd, 0, 0, 0], 'fe80::abcd:0:0:0'],
  ] as const)('builds IPv%i words %j as %j', (family, words, text) => {
    expect(ipAddressFromWords(family, words)).toEqual({ family, words, text });
  });

  it.each([
    [4, 32],
    [6, 128],
  ] as const)('gives IPv%i a width of %i bits', (family, width) => {
    expect(addressWidth(family)).toBe(width);
  });

  it.each([
    [[0, 0, 0, 0, 0, 0xffff, 0xcb00, 0x7107], true],
    [[0, 0, 0, 0, 0, 0xffff, 0, 0], true],
    [[0, 0, 0, 0, 0, 0, 0xcb00, 0x7107], false],
    [[0, 0, 0, 0, 0xffff, 0, 0xcb00, 0x7107], false],
    [[1, 0, 0, 0, 0, 0xffff, 0, 0], false],
    [[0xcb00, 0x7107], false],
  ])('isIpv4Mapped(%j) is %s', (words, mapped) => {
    expect(isIpv4Mapped(words)).toBe(mapped);
  });
});

describe('maskAddress', () => {
  it.each([
    ['203.0.113.45', 32, '203.0.113.45'],
    ['203.0.113.45', 31, '203.0.113.44'],
    ['203.0.113.200', 25, '203.0.113.128'],
    ['203.0.113.45', 24, '203.0.113.0'],
    ['203.0.113.45', 17, '203.0.0.0'],
    ['203.0.113.45', 16, '203.0.0.0'],
    ['203.0.113.45', 8, '203.0.0.0'],
    ['203.0.113.45', 1, '128.0.0.0'],
    ['203.0.113.45', 0, '0.0.0.0'],
    ['2001:db8:1:2:3:4:5:6', 128, '2001:db8:1:2:3:4:5:6'],
    ['2001:db8::7', 127, '2001:db8::6'],
    ['2001:db8:1:2:3:4:5:6', 64, '2001:db8:1:2::'],
    ['2001:db8:1:2fff:3:4:5:6', 52, '2001:db8:1:2000::'],
    ['2001:db8:1:2:3:4:5:6', 48, '2001:db8:1::'],
    ['2001:db8:1:2:3:4:5:6', 32, '2001:db8::'],
    ['ffff::1', 1, '8000::'],
    ['2001:db8:1:2:3:4:5:6', 0, '::'],
  ])('keeps %s/%i as %s', (text, length, masked) => {
    expect(maskAddress(address(text), length)).toEqual(address(masked));
  });

  it('leaves the address it masks unchanged', () => {
    const original = address('2001:db8:1:2:3:4:5:6');

    maskAddress(original, 64);

    expect(original).toEqual(address('2001:db8:1:2:3:4:5:6'));
  });
});

describe('isNonClientAddress', () => {
  it.each([
    ['0.0.0.0'],
    ['0.1.2.3'],
    ['255.255.255.255'],
    ['224.0.0.1'],
    ['239.255.255.250'],
    ['::'],
    ['ff02::1'],
    ['ff05::1:3'],
  ])('says %s is not a client', (text) => {
    expect(isNonClientAddress(address(text))).toBe(true);
  });

  // Loopback is a client like any other when the proxy runs on the same host.
  it.each([
    ['127.0.0.1'],
    ['127.255.255.254'],
    ['::1'],
    ['203.0.113.7'],
    ['198.51.100.255'],
    ['10.0.0.1'],
    ['172.16.0.1'],
    ['192.168.1.1'],
    ['100.64.0.1'],
    ['169.254.1.1'],
    ['2001:db8::1'],
    ['fe80::1'],
    ['fd00::1'],
    ['::ffff:203.0.113.7'],
    ['::203.0.113.7'],
  ])('says %s may be a client', (text) => {
    expect(isNonClientAddress(address(text))).toBe(false);
  });
});
