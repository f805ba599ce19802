import type { CidrSet } from './cidr-set.js';
import { type IpAddress, parseIpAddress } from './ip-address.js';

/**
 * Most trusted hops walked in `X-Forwarded-For` before giving up. Real chains have a few
 * (CDN, load balancer, Traefik); a longer run of trusted entries is someone padding the
 * header to make ipgate work, so it is denied.
 */
export const MAX_TRUSTED_HOPS = 16;

/** Why no client IP could be found. Each one means deny. */
export type ClientIpProblem =
  | 'untrusted-peer'
  | 'no-forwarded-for'
  | 'bad-forwarded-for'
  | 'too-many-hops';

export type ClientIpResult =
  | { readonly ok: true; readonly address: IpAddress }
  | { readonly ok: false; readonly problem: ClientIpProblem };

/**
 * Finds the client behind the proxy that is asking. The socket peer must be a trusted
 * proxy. `X-Forwarded-For` (all lines joined) is walked from the right, skipping trusted
 * proxies: the first untrusted entry is the client, and when every entry is trusted the
 * leftmost one is (nginx's realip rule). Entries to the left of the client are whatever
 * the client chose to send, so they are never read. `X-Real-Ip` and `Forwarded` pass
 * through Caddy and Traefik unchecked, so they are not consulted at all.
 */
export function resolveClientIp(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: CidrSet,
): ClientIpResult {
  if (peer === undefined || !isTrustedPeer(peer, trustedProxies)) {
    return { ok: false, problem: 'untrusted-peer' };
  }
  return resolveForwardedFor(forwardedFor, trustedProxies);
}

/** True when the socket peer (as Node reports it) is inside the trusted proxies. */
export function isTrustedPeer(peer: string, trustedProxies: CidrSet): boolean {
  const address = parseIpAddress(peer);
  return address !== undefined && trustedProxies.contains(address);
}

/**
 * The client named by `X-Forwarded-For` (all lines joined), for a request whose peer is
 * already known to be a trusted proxy. See {@link resolveClientIp}.
 */
export function resolveForwardedFor(
  forwardedFor: string | undefined,
  trustedProxies: CidrSet,
): ClientIpResult {
  // Never fall back to the peer: it is the proxy itself, usually inside a private range.
  if (forwardedFor === undefined || forwardedFor.trim() === '') {
    return { ok: false, problem: 'no-forwarded-for' };
  }
  return walkForwardedFor(forwardedFor, trustedProxies);
}

function walkForwardedFor(header: string, trustedProxies: CidrSet): ClientIpResult {
  let end = header.length;
  for (let hop = 0; hop <= MAX_TRUSTED_HOPS; hop++) {
    const comma = header.lastIndexOf(',', end - 1);
    const address = parseIpAddress(header.slice(comma + 1, end));
    if (address === undefined) return { ok: false, problem: 'bad-forwarded-for' };
    if (comma < 0 || !trustedProxies.contains(address)) return { ok: true, address };
    end = comma;
  }
  return { ok: false, problem: 'too-many-hops' };
}
