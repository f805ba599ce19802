import type { Redis } from 'ioredis';
import { StoreUnavailableError } from './errors.js';

/**
 * What a grant's Redis value says: who signed in, the Authentik event, and when the grant
 * started. Kept this small on purpose: Redis holds one per signed-in address.
 */
export interface GrantRecord {
  readonly user?: string;
  readonly eventId?: string;
  readonly loginAt?: string;
}

/** A grant found in Redis: its record and its end (ms since the epoch; null for no TTL). */
export interface FoundGrant {
  readonly record: GrantRecord;
  readonly expiresAt: number | null;
}

/**
 * Result of writing a grant: `stored` (new or extended), `kept` (a grant that lasts
 * longer was already there and is left alone) or `expired` (its end is already past).
 * `expiresAt` is the end of the grant now in Redis; null when it has no TTL.
 */
export type PutOutcome =
  | { readonly status: 'stored' | 'kept'; readonly expiresAt: Date | null }
  | { readonly status: 'expired' };

// Writes the grant only when it ends later than the one already stored, so a late retry
// of an old login never shortens a newer grant. Times are Redis's own (TIME), so every
// replica compares against the same clock. Returns {status, expiry in ms or -1}.
const PUT_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expireAt = tonumber(ARGV[2])
if expireAt <= now then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then return {2, -1} end
if ttl >= 0 and now + ttl >= expireAt then return {2, now + ttl} end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', expireAt)
return {1, expireAt}
`;

const FIND_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if not value then return nil end
return {value, redis.call('PTTL', KEYS[1])}
`;

/**
 * Grants in Redis: one string key per grant, `<prefix>ip:<grant>`, holding a JSON record
 * and expiring through Redis's own TTL. Every call is one round trip; every failure is
 * a {@link StoreUnavailableError}.
 */
export class GrantStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /** The Redis key of a grant: `ipgate:ip:203.0.113.45`. */
  key(grant: string): string {
    return `${this.#prefix}ip:${grant}`;
  }

  /** The live grant's record, or undefined when there is none. */
  async find(grant: string): Promise<GrantRecord | undefined> {
    return (await this.lookup(grant))?.record;
  }

  /**
   * The live grant's record and when it ends (ms since the epoch; null for no TTL), in
   * one round trip, or undefined when there is no grant.
   */
  async lookup(grant: string): Promise<FoundGrant | undefined> {
    // Counted from before the request, so the end is never later than Redis's own.
    const sent = Date.now();
    const reply = await this.#call(
      () => this.#redis.eval(FIND_SCRIPT, 1, this.key(grant)) as Promise<unknown>,
    );
    if (!Array.isArray(reply) || typeof reply[0] !== 'string') return undefined;
    const ttl = Number(reply[1]);
    return { record: readRecord(reply[0]), expiresAt: ttl >= 0 ? sent + ttl : null };
  }

  /** Stores a grant ending at `expiresAt` (ms since the epoch) unless a longer one exists. */
  async put(grant: string, record: GrantRecord, expiresAt: number): Promise<PutOutcome> {
    const value = formatGrantValue(record);
    const reply = await this.#call(
      () => this.#redis.eval(PUT_SCRIPT, 1, this.key(grant), value, expiresAt) as Promise<unknown>,
    );
    const [status, expiry] = Array.isArray(reply) ? reply.map(Number) : [];
    if (status === 0) return { status: 'expired' };
    return {
      status: status === 1 ? 'stored' : 'kept',
      expiresAt: expiry === undefined || expiry < 0 ? null : new Date(expiry),
    };
  }

  /** Resolves when Redis answers PING. */
  async ping(): Promise<void> {
    await this.#call(() => this.#redis.ping());
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}

// Field names in Redis are snake_case so that `redis-cli GET` reads naturally.
const REDIS_FIELDS = {
  user: 'user',
  eventId: 'event_id',
  loginAt: 'login_at',
} as const satisfies Record<keyof GrantRecord, string>;

type MutableRecord = { -readonly [K in keyof GrantRecord]: string };

/** The JSON text a grant's key holds: `{"user":"alice","event_id":"…","login_at":"…"}`. */
export function formatGrantValue(record: GrantRecord): string {
  const fields: Record<string, string> = {};
  for (const [property, field] of Object.entries(REDIS_FIELDS)) {
    const value = record[property as keyof GrantRecord];
    if (value !== undefined) fields[field] = value;
  }
  return JSON.stringify(fields);
}

// A value written by hand (`SET ipgate:ip:198.51.100.7 alice EX 3600`) is still a grant:
// the key is what allows; a value that is not a JSON record is taken as the user name.
function readRecord(value: string): GrantRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { user: value };
  }
  if (typeof parsed === 'string') return { user: parsed };
  if (typeof parsed !== 'object' || parsed === null) return {};

  const record: MutableRecord = {};
  for (const [property, field] of Object.entries(REDIS_FIELDS)) {
    const fieldValue: unknown = Object.hasOwn(parsed, field)
      ? (parsed as Record<string, unknown>)[field]
      : undefined;
    if (typeof fieldValue === 'string') record[property as keyof GrantRecord] = fieldValue;
  }
  return record;
}
