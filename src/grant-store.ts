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
  /** Why a grant was added by hand (admin API or CLI); absent for sign-ins. */
  readonly note?: string;
}

/** Where a change came from, and the address behind it: written to the audit trail. */
export interface AuditContext {
  readonly source: 'webhook' | 'admin' | 'cli';
  readonly ip?: string;
}

/** A grant as listed: its name, record and remaining time (ms; null for no TTL). */
export interface ListedGrant {
  readonly grant: string;
  readonly record: GrantRecord;
  readonly ttlMs: number | null;
}

/** One entry of the audit stream: its id and fields, as written. */
export interface AuditEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Most entries kept in the audit stream (approximately: MAXLEN ~). */
export const AUDIT_MAX_ENTRIES = 10_000;

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

// Appends to the audit stream (KEYS[2]) in the same script as the change, so auditing costs
// no extra round trip. pcall: a failed append (say, the key holds another type) must not
// undo or fail the change itself; the script then answers as if it had succeeded.
const AUDIT_LUA = `
local function audit(action, fields)
  redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ${AUDIT_MAX_ENTRIES}, '*', 'action', action, unpack(fields))
end
`;

// Writes the grant only when it ends later than the one already stored, so a late retry
// of an old login never shortens a newer grant. Times are Redis's own (TIME), so every
// replica compares against the same clock. ARGV[3] = 1 overwrites whatever is there (a
// grant added by hand). ARGV[4..] are the audit fields. Returns {status, expiry or -1}.
const PUT_SCRIPT = `${AUDIT_LUA}
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expireAt = tonumber(ARGV[2])
if expireAt <= now then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ARGV[3] ~= '1' then
  if ttl == -1 then return {2, -1} end
  if ttl >= 0 and now + ttl >= expireAt then return {2, now + ttl} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', expireAt)
audit(ttl == -2 and 'grant' or 'refresh', {select(4, unpack(ARGV))})
return {1, expireAt}
`;

// Deletes a grant and records who had it. Returns its value, or nil when there was none.
const REVOKE_SCRIPT = `${AUDIT_LUA}
local value = redis.call('GET', KEYS[1])
if not value then return nil end
redis.call('DEL', KEYS[1])
local user, event = '', ''
local ok, record = pcall(cjson.decode, value)
if ok and type(record) == 'table' then
  if type(record.user) == 'string' then user = record.user end
  if type(record.event_id) == 'string' then event = record.event_id end
elseif not ok then
  user = value
end
audit('revoke', {'grant', ARGV[1], 'user', user, 'event_id', event, 'source', ARGV[2]})
return value
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
  readonly #onError: () => void;

  /** `onError` is called for every command that fails or times out (for metrics). */
  constructor(redis: Redis, prefix: string, onError: () => void = () => {}) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#onError = onError;
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

  /** The audit stream's key: `ipgate:audit`. */
  get auditKey(): string {
    return `${this.#prefix}audit`;
  }

  /**
   * Stores a grant ending at `expiresAt` (ms since the epoch) unless a longer one exists,
   * and records it in the audit trail in the same round trip.
   */
  async put(
    grant: string,
    record: GrantRecord,
    expiresAt: number,
    audit: AuditContext = { source: 'webhook' },
  ): Promise<PutOutcome> {
    return this.#write(grant, record, expiresAt, audit, false);
  }

  /** Stores a grant ending at `expiresAt`, replacing any grant already there (by hand). */
  async set(
    grant: string,
    record: GrantRecord,
    expiresAt: number,
    audit: AuditContext,
  ): Promise<PutOutcome> {
    return this.#write(grant, record, expiresAt, audit, true);
  }

  /** Deletes a grant; returns what it held, or undefined when there was none. */
  async revoke(grant: string, audit: AuditContext): Promise<GrantRecord | undefined> {
    const keys = [this.key(grant), this.auditKey];
    const reply = await this.#call(
      () => this.#redis.eval(REVOKE_SCRIPT, 2, ...keys, grant, audit.source) as Promise<unknown>,
    );
    return typeof reply === 'string' ? readRecord(reply) : undefined;
  }

  /**
   * One page of grants, with SCAN (never KEYS, which blocks Redis): pass the returned
   * cursor back until it is `'0'`. A page may be empty, or repeat a grant, as SCAN allows.
   */
  async list(cursor: string, count: number): Promise<{ grants: ListedGrant[]; cursor: string }> {
    const [next, keys] = await this.#call(() =>
      this.#redis.scan(cursor, 'MATCH', `${escapeGlob(this.key(''))}*`, 'COUNT', count),
    );
    if (keys.length === 0) return { grants: [], cursor: next };

    const pipeline = this.#redis.pipeline();
    for (const key of keys) pipeline.get(key).pttl(key);
    const replies = (await this.#call(() => pipeline.exec())) ?? [];
    const grants: ListedGrant[] = [];
    keys.forEach((key, index) => {
      const value = replies[index * 2]?.[1];
      const ttl = Number(replies[index * 2 + 1]?.[1]);
      if (typeof value !== 'string') return;
      const grant = key.slice(this.key('').length);
      grants.push({ grant, record: readRecord(value), ttlMs: ttl >= 0 ? ttl : null });
    });
    return { grants, cursor: next };
  }

  /** Every grant of `user`, walking the whole key space with SCAN. */
  async findByUser(user: string): Promise<ListedGrant[]> {
    const found: ListedGrant[] = [];
    let cursor = '0';
    do {
      const page = await this.list(cursor, 500);
      found.push(...page.grants.filter((listed) => listed.record.user === user));
      cursor = page.cursor;
    } while (cursor !== '0');
    return [...new Map(found.map((listed) => [listed.grant, listed])).values()];
  }

  /** The newest `count` audit entries, newest first. */
  async auditTrail(count: number): Promise<AuditEntry[]> {
    const entries = await this.#call(() =>
      this.#redis.xrevrange(this.auditKey, '+', '-', 'COUNT', count),
    );
    return entries.map(([id, flat]) => {
      const fields: Record<string, string> = {};
      for (let index = 0; index + 1 < flat.length; index += 2) {
        fields[flat[index] as string] = flat[index + 1] as string;
      }
      return { id, fields };
    });
  }

  async #write(
    grant: string,
    record: GrantRecord,
    expiresAt: number,
    audit: AuditContext,
    replace: boolean,
  ): Promise<PutOutcome> {
    const value = formatGrantValue(record);
    const fields = auditFields(grant, record, expiresAt, audit);
    const keys = [this.key(grant), this.auditKey];
    const args = [value, expiresAt, replace ? '1' : '0', ...fields];
    const reply = await this.#call(
      () => this.#redis.eval(PUT_SCRIPT, 2, ...keys, ...args) as Promise<unknown>,
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

  /** The key the write probe names: `ipgate:readyz-probe`. ipgate never creates it. */
  get probeKey(): string {
    return `${this.#prefix}readyz-probe`;
  }

  /**
   * Resolves when Redis accepts writes. The probe, `SET <probeKey> 1 XX PX 1000`, changes
   * nothing, since the key does not exist, but Redis refuses it as it refuses any write:
   * out of memory under `noeviction`, a read-only replica, writes stopped after a failed
   * save, or an ACL user that may not write ipgate's keys.
   */
  async probeWrite(): Promise<void> {
    await this.#call(() => this.#redis.set(this.probeKey, '1', 'PX', 1000, 'XX'));
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      this.#onError();
      throw new StoreUnavailableError(error);
    }
  }
}

// Field names in Redis are snake_case so that `redis-cli GET` reads naturally.
const REDIS_FIELDS = {
  user: 'user',
  eventId: 'event_id',
  loginAt: 'login_at',
  note: 'note',
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

// Flat field list for XADD: readable with `redis-cli XREVRANGE ipgate:audit + - COUNT 20`.
function auditFields(
  grant: string,
  record: GrantRecord,
  expiresAt: number,
  audit: AuditContext,
): string[] {
  return [
    'grant',
    grant,
    'user',
    record.user ?? '',
    'event_id',
    record.eventId ?? '',
    'ip',
    audit.ip ?? '',
    'source',
    audit.source,
    'expires_at',
    new Date(expiresAt).toISOString(),
    ...(record.note === undefined ? [] : ['note', record.note]),
  ];
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
