import type { CidrSet } from './cidr-set.js';
import { type ClientIpProblem, resolveClientIp } from './client-ip.js';
import { StoreUnavailableError } from './errors.js';
import { type GrantWidths, grantFor } from './grant.js';
import type { GrantRecord } from './grant-store.js';
import type { IpAddress } from './ip-address.js';

/** Where decisions find grants: the grant store, or the cache in front of it. */
export interface GrantSource {
  find(grant: string): Promise<GrantRecord | undefined>;
}

/** What ipgate needs to decide: who to trust, who is always allowed, where grants live. */
export interface DecisionRules extends GrantWidths {
  readonly trustedProxies: CidrSet;
  readonly staticCidrs: CidrSet;
  readonly grants: GrantSource;
}

/**
 * The answer for one request. `unavailable` means the client is not in a static CIDR
 * and Redis could not say whether it has a grant: never an allow.
 */
export type Decision =
  | { readonly result: 'allow'; readonly reason: 'static'; readonly client: IpAddress }
  | {
      readonly result: 'allow';
      readonly reason: 'grant';
      readonly client: IpAddress;
      readonly grant: string;
      readonly user: string | undefined;
    }
  | { readonly result: 'deny'; readonly reason: ClientIpProblem }
  | { readonly result: 'deny'; readonly reason: 'no-grant'; readonly client: IpAddress }
  | { readonly result: 'unavailable'; readonly client: IpAddress; readonly error: Error };

/**
 * Decides a forward-auth request from its socket peer and `X-Forwarded-For`: static
 * CIDRs first (in memory), then the client's grant (cached, else one Redis round trip).
 */
export async function decide(
  peer: string | undefined,
  forwardedFor: string | undefined,
  rules: DecisionRules,
): Promise<Decision> {
  const resolved = resolveClientIp(peer, forwardedFor, rules.trustedProxies);
  if (!resolved.ok) return { result: 'deny', reason: resolved.problem };
  const client = resolved.address;

  if (rules.staticCidrs.contains(client)) return { result: 'allow', reason: 'static', client };

  const grant = grantFor(client, rules);
  try {
    const record = await rules.grants.find(grant);
    if (record === undefined) return { result: 'deny', reason: 'no-grant', client };
    return { result: 'allow', reason: 'grant', client, grant, user: record.user };
  } catch (error) {
    if (error instanceof StoreUnavailableError) return { result: 'unavailable', client, error };
    throw error;
  }
}
