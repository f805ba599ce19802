import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * A parsed IP address. `words` holds its bits as 16-bit groups (2 for IPv4, 8 for IPv6);
 * `text` is its canonical form: dotted IPv4 or RFC 5952 lowercase IPv6.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly words: readonly number[];
  readonly text: string;
}

/** Number of bits in an address of the family: 32 or 128. */
export function addressWidth(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/**
 * Parses one address as proxies write it: brackets, a port and a zone id are stripped,
 * and `::ffff:a.b.c.d` becomes IPv4. Returns undefined for anything that is not strictly
 * an address (leading zeros, shorthand, integer and hex forms are refused, as Go does).
 */
export function parseIpAddress(input: string): IpAddress | undefined {
  const host = stripPort(input.trim());
  if (host === undefined) return undefined;

  if (isIPv4(host)) return ipv4FromOctets(host.split('.').map(Number));

  const address = stripZone(host);
  if (address === undefined || !isIPv6(address)) return undefined;
  return fromIpv6Words(ipv6Words(address));
}

/**
 * Parses an address without brackets, port or zone, as written in configuration and
 * in Authentik events. Same strictness and IPv4 unmapping as {@link parseIpAddress}.
 */
export function parsePlainIpAddress(input: string): IpAddress | undefined {
  if (isIPv4(input)) return ipv4FromOctets(input.split('.').map(Number));
  if (!isIPv6(input) || input.includes('%')) return undefined;
  return fromIpv6Words(ipv6Words(input));
}

/**
 * The eight 16-bit groups of an IPv6 address already checked by `net.isIPv6`. Written out
 * here because ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d`, which would turn an
 * IPv4-compatible address into an IPv4 client.
 */
export function ipv6Words(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const groups = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').flatMap(groupWords);
  const left = groups(head);
  const right = groups(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

function groupWords(group: string): number[] {
  if (!group.includes('.')) return [Number.parseInt(group, 16)];
  const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

/** Builds an address of the family from its 16-bit words, in canonical form. */
export function ipAddressFromWords(family: 4 | 6, words: readonly number[]): IpAddress {
  if (family === 4) {
    const [high = 0, low = 0] = words;
    return ipv4FromOctets([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  }
  return { family: 6, words, text: new ipaddr.IPv6([...words]).toRFC5952String() };
}

/** Keeps the first `length` bits of the address and zeroes the rest. */
export function maskAddress(address: IpAddress, length: number): IpAddress {
  return ipAddressFromWords(address.family, maskWords(address.words, length));
}

/** Keeps the first `length` bits of a list of 16-bit words and zeroes the rest. */
export function maskWords(words: readonly number[], length: number): number[] {
  return words.map((word, index) => {
    const kept = Math.min(Math.max(length - index * 16, 0), 16);
    return word & ((0xffff << (16 - kept)) & 0xffff);
  });
}

/**
 * True for addresses no client connects from: 0.0.0.0, ::, broadcast and multicast.
 * Loopback is a client like any other when the proxy runs on the same host.
 */
export function isNonClientAddress(address: IpAddress): boolean {
  const parsed =
    address.family === 4 ? ipaddr.IPv4.parse(address.text) : ipaddr.IPv6.parse(address.text);
  return ['unspecified', 'broadcast', 'multicast'].includes(parsed.range());
}

// `[v6]:port`, `[v6]`, or `a.b.c.d:port`. An unbracketed IPv6 address has many colons and
// is never read as host:port, so `2001:db8::1` keeps its last group.
function stripPort(text: string): string | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !isPort(rest.slice(1), rest[0])) return undefined;
    return text.slice(1, close);
  }

  const colon = text.indexOf(':');
  if (colon < 0 || colon !== text.lastIndexOf(':')) return text;
  return isPort(text.slice(colon + 1), ':') ? text.slice(0, colon) : undefined;
}

function isPort(digits: string, separator: string | undefined): boolean {
  return separator === ':' && /^\d{1,5}$/.test(digits) && Number(digits) <= 65535;
}

// A zone id (`fe80::1%eth0`, or `%25eth0` as URLs escape it) names an interface on the
// proxy's host; it says nothing about who the client is.
function stripZone(text: string): string | undefined {
  const percent = text.indexOf('%');
  if (percent < 0) return text;
  const zone = text.slice(percent + 1);
  if (zone === '' || zone === '25') return undefined;
  return text.slice(0, percent);
}

// `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2) is how a dual-stack socket shows an IPv4 peer.
function fromIpv6Words(words: number[]): IpAddress {
  if (isIpv4Mapped(words)) return ipAddressFromWords(4, words.slice(6));
  return ipAddressFromWords(6, words);
}

/** True for the words of `::ffff:0:0/96`. */
export function isIpv4Mapped(words: readonly number[]): boolean {
  return words.length === 8 && words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff;
}

function ipv4FromOctets(octets: readonly number[]): IpAddress {
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  return { family: 4, words: [(a << 8) | b, (c << 8) | d], text: `${a}.${b}.${c}.${d}` };
}
