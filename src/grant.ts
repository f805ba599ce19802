import { addressWidth, type IpAddress, maskAddress } from './ip-address.js';

/** How wide a grant is: IPV4_PREFIX and IPV6_PREFIX, in bits. */
export interface GrantWidths {
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
}

/**
 * Names the grant that covers an address: the address itself when the width is full
 * (`203.0.113.45`), else its network (`2001:db8:1:2::/64`). IPv6 privacy addresses rotate
 * inside a /64, so a login from one of them allows the whole prefix by default.
 */
export function grantFor(address: IpAddress, widths: GrantWidths): string {
  const length = address.family === 4 ? widths.ipv4Prefix : widths.ipv6Prefix;
  if (length === addressWidth(address.family)) return address.text;
  return `${maskAddress(address, length).text}/${length}`;
}
