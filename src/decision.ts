import type { CidrSet } from './cidr-set.js';
import { type ClientIpProblem, isTrustedPeer, resolveForwardedFor } from './client-ip.js';
import { StoreUnavailableError } from './errors.js';
import { type GrantWidths, grantFor } from './grant.js';
import type { GrantRecord } from './grant-store.js';
import type { IpAddress } from './ip-address.js';
import { memoize } from './memo.js';

/** Where decisions find grants: a cache in front of the grant store. */
export interface GrantSource {
  /** The cached answer (null for "no grant"), or undefined when nothing usable is cached. */
  cached(grant: string): GrantRecord | null | undefined;
  /** Asks Redis (and caches the answer). */
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

// What the request's addresses alone decide; only grants need a lookup.
type Classified =
  | { readonly decision: Decision }
  | { readonly decision: undefined; readonly client: IpAddress; readonly grant: string };

const UNTRUSTED_PEER: Decision = { result: 'deny', reason: 'untrusted-peer' };

/**
 * Returns the decision function: static CIDRs first (in memory), then the client's grant
 * (cached, else one Redis round trip). Peers and `X-Forwarded-For` values seen before are
 * resolved from bounded memos: proxies send the same few values again and again.
 */
export function createDecider(rules: DecisionRules) {
  const trustedPeer = memoize((peer) => isTrustedPeer(peer, rules.trustedProxies), 1024);
  const classify = memoize((forwardedFor) => classifyClient(forwardedFor, rules), 10_000);

  // Synchronous when the answer needs no Redis round trip: most requests, with the cache.
  return function decide(
    peer: string | undefined,
    forwardedFor: string | undefined,
  ): Decision | Promise<Decision> {
    if (peer === undefined || !trustedPeer(peer)) return UNTRUSTED_PEER;
    const classified = classify(forwardedFor ?? '');
    if (classified.decision !== undefined) return classified.decision;

    const { client, grant } = classified;
    const cached = rules.grants.cached(grant);
    if (cached !== undefined) return grantDecision(client, grant, cached);
    return rules.grants.find(grant).then(
      (record) => grantDecision(client, grant, record ?? null),
      (error: unknown) => {
        if (error instanceof StoreUnavailableError) return { result: 'unavailable', client, error };
        throw error;
      },
    );
  };
}

function grantDecision(client: IpAddress, grant: string, record: GrantRecord | null): Decision {
  if (record === null) return { result: 'deny', reason: 'no-grant', client };
  return { result: 'allow', reason: 'grant', client, grant, user: record.user };
}

function classifyClient(forwardedFor: string, rules: DecisionRules): Classified {
  const resolved = resolveForwardedFor(forwardedFor, rules.trustedProxies);
  if (!resolved.ok) return { decision: { result: 'deny', reason: resolved.problem } };
  const client = resolved.address;
  if (rules.staticCidrs.contains(client)) {
    return { decision: { result: 'allow', reason: 'static', client } };
  }
  return { decision: undefined, client, grant: grantFor(client, rules) };
}
