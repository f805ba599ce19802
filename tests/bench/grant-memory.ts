import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { GrantStore } from '../../src/grant-store.js';

/** Average `MEMORY USAGE` of grant keys, in bytes. */
export interface GrantMemoryResult {
  readonly ipv4Grants: number;
  readonly ipv4Bytes: number;
  readonly ipv6Grants: number;
  readonly ipv6Bytes: number;
}

const BATCH = 1000;

/**
 * Writes grants with ipgate's own {@link GrantStore} (the same Lua script and JSON value
 * as the webhook: user name, Authentik event id, login time; 30-day TTL) into an empty Redis,
 * then averages `MEMORY USAGE … SAMPLES 0` over every key of each family.
 */
export async function measureGrantMemory(
  redis: Redis,
  ipv4Grants: number,
  ipv6Grants: number,
): Promise<GrantMemoryResult> {
  const store = new GrantStore(redis, 'ipgate:');
  const ipv4 = Array.from(
    { length: ipv4Grants },
    (_, i) => `11.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
  );
  const ipv6 = Array.from({ length: ipv6Grants }, (_, i) => `2001:db8:${i.toString(16)}::/64`);
  await writeGrants(store, [...ipv4, ...ipv6]);

  return {
    ipv4Grants,
    ipv4Bytes: await averageUsage(
      redis,
      ipv4.map((grant) => store.key(grant)),
    ),
    ipv6Grants,
    ipv6Bytes: await averageUsage(
      redis,
      ipv6.map((grant) => store.key(grant)),
    ),
  };
}

async function writeGrants(store: GrantStore, grants: readonly string[]): Promise<void> {
  const expiresAt = Date.now() + 30 * 86_400_000;
  for (let start = 0; start < grants.length; start += BATCH) {
    const batch = grants.slice(start, start + BATCH).map((grant, index) =>
      store.put(
        grant,
        {
          user: userName(start + index),
          eventId: randomUUID(),
          loginAt: new Date().toISOString(),
        },
        expiresAt,
      ),
    );
    await Promise.all(batch);
  }
}

// User names of 4 to 16 characters, 10 on average: Redis rounds every allocation up to a
// size class, so one fixed length would land every key on the same side of a boundary.
function userName(index: number): string {
  return `u${index}`.padEnd(4 + (index % 13), 'x').slice(0, 4 + (index % 13));
}

async function averageUsage(redis: Redis, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return Number.NaN;
  let total = 0;
  for (let start = 0; start < keys.length; start += BATCH) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(start, start + BATCH)) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    for (const [error, bytes] of (await pipeline.exec()) ?? []) {
      if (error !== null || typeof bytes !== 'number') throw new Error(`no MEMORY USAGE: ${error}`);
      total += bytes;
    }
  }
  return total / keys.length;
}
