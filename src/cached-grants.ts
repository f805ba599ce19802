import type { GrantCache } from './grant-cache.js';
import type { GrantEvents } from './grant-events.js';
import type { GrantRecord, GrantStore } from './grant-store.js';

/**
 * Longest a cached answer lives when Redis does not report changes made outside ipgate
 * (no keyspace notifications), in ms: a `redis-cli DEL` or `SET` then takes effect
 * within this time on every replica, well inside a second.
 */
export const FALLBACK_CACHE_MS = 750;

/**
 * Finds grants through the cache. An allow is kept until the grant ends or `ttlMs`
 * passes, whichever is first; a "no grant" for `ttlMs`. Changes announced by any replica
 * (or reported by keyspace notifications) drop the entry at once. Nothing is cached while
 * those announcements cannot be received.
 */
export class CachedGrants {
  readonly #store: GrantStore;
  readonly #cache: GrantCache;
  readonly #events: GrantEvents;
  readonly #ttlMs: number;

  constructor(store: GrantStore, cache: GrantCache, events: GrantEvents, ttlMs: number) {
    this.#store = store;
    this.#cache = cache;
    this.#events = events;
    this.#ttlMs = ttlMs;
  }

  /** The cached answer (null for "no grant"), or undefined when none is usable. */
  cached(grant: string): GrantRecord | null | undefined {
    if (!this.#events.live) return undefined;
    return this.#cache.get(grant, Date.now());
  }

  /** Asks Redis for the live grant's record, and caches the answer while that is safe. */
  async find(grant: string): Promise<GrantRecord | undefined> {
    if (!this.#events.live) return this.#store.find(grant);
    const now = Date.now();
    const epoch = this.#cache.epoch;
    const found = await this.#store.lookup(grant);
    const maxAge = this.#events.keyspace ? this.#ttlMs : Math.min(this.#ttlMs, FALLBACK_CACHE_MS);
    const until = Math.min(now + maxAge, found?.expiresAt ?? Number.POSITIVE_INFINITY);
    this.#cache.set(grant, found?.record ?? null, until, epoch);
    return found?.record;
  }
}
