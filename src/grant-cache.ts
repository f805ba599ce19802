import type { GrantRecord } from './grant-store.js';

/** A cached answer for one grant: its record, or null for "no grant", until `until` (ms). */
interface Entry {
  readonly record: GrantRecord | null;
  readonly until: number;
}

/**
 * A bounded map from grant name to the last answer Redis gave, each answer kept no longer
 * than the caller allows (never past the grant's own end). When full, the oldest entry
 * goes first. `epoch` counts invalidations, so a lookup that raced one can tell that its
 * answer may be stale and must not be cached.
 */
export class GrantCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  #epoch = 0;

  /** `maxEntries` of 0 turns the cache off: nothing is kept. */
  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached answer, or undefined when there is none or it has run out at `now`. */
  get(grant: string, now: number): GrantRecord | null | undefined {
    const entry = this.#entries.get(grant);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.record;
    this.#entries.delete(grant);
    return undefined;
  }

  /** Keeps an answer until `until` (ms), unless an invalidation happened since `epoch`. */
  set(grant: string, record: GrantRecord | null, until: number, epoch: number): void {
    if (epoch !== this.#epoch || this.#maxEntries === 0) return;
    this.#entries.delete(grant);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(grant, { record, until });
  }

  /** Forgets one grant: it was written, extended, revoked or expired in Redis. */
  invalidate(grant: string): void {
    this.#epoch++;
    this.#entries.delete(grant);
  }

  /** Forgets everything: invalidations may have been missed. */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
