import { isIPv6 } from 'node:net';
import {
  addressWidth,
  type IpAddress,
  ipAddressFromWords,
  ipv6Words,
  isIpv4Mapped,
  maskAddress,
  maskWords,
  parsePlainIpAddress,
} from './ip-address.js';

/** A network: its first address and the number of leading bits that are fixed. */
export interface Cidr {
  readonly network: IpAddress;
  readonly length: number;
}

/**
 * Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address (a /32 or /128).
 * Host bits are cleared (`203.0.113.7/24` is `203.0.113.0/24`, as Traefik does).
 * An IPv4-mapped IPv6 network of /96 or longer is the IPv4 network it maps, so
 * `::ffff:203.0.113.0/120` matches 203.0.113.9; shorter IPv6 networks such as `::/0`
 * never match IPv4 clients (Go's rule, which Traefik follows). Undefined if invalid.
 */
export function parseCidr(entry: string): Cidr | undefined {
  const slash = entry.indexOf('/');
  const addressText = slash < 0 ? entry : entry.slice(0, slash);
  const lengthText = slash < 0 ? undefined : entry.slice(slash + 1);

  if (addressText.includes(':') && lengthText !== undefined) {
    return parseIpv6Cidr(addressText, lengthText);
  }
  const address = parsePlainIpAddress(addressText);
  if (address === undefined) return undefined;
  const length = parseLength(lengthText, addressWidth(address.family));
  if (length === undefined) return undefined;
  return { network: maskAddress(address, length), length };
}

/** The CIDR in canonical text: `203.0.113.0/24`, `2001:db8::/32`. */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.network.text}/${cidr.length}`;
}

// Parsed apart from plain addresses: `::ffff:203.0.113.0/120` must keep its IPv6 width
// until the length says whether it is an IPv4 network or an IPv6 one.
function parseIpv6Cidr(addressText: string, lengthText: string): Cidr | undefined {
  const length = parseLength(lengthText, 128);
  if (length === undefined || addressText.includes('%') || !isIPv6(addressText)) {
    return undefined;
  }
  const words = maskWords(ipv6Words(addressText), length);
  if (length >= 96 && isIpv4Mapped(words)) {
    return { network: ipAddressFromWords(4, words.slice(6)), length: length - 96 };
  }
  return { network: ipAddressFromWords(6, words), length };
}

function parseLength(text: string | undefined, width: number): number | undefined {
  if (text === undefined) return width;
  if (!/^(0|[1-9]\d{0,2})$/.test(text)) return undefined;
  const length = Number(text);
  return length <= width ? length : undefined;
}
