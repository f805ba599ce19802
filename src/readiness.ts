import { StoreUnavailableError } from './errors.js';
import type { GrantStore } from './grant-store.js';

/** What `/readyz` reports: ready, or why not in words an operator can act on. */
export type Readiness =
  | { readonly ready: true }
  | { readonly ready: false; readonly reason: string; readonly error?: unknown };

// Redis names why it refused a command in the first word of its error reply.
const REFUSALS: Readonly<Record<string, string>> = {
  OOM: 'redis refuses writes: it is out of memory (maxmemory with noeviction)',
  READONLY: 'redis refuses writes: it is a read-only replica',
  MISCONF: 'redis refuses writes: its last save to disk failed',
  NOPERM: "redis refuses writes: the Redis user may not write ipgate's keys",
};

/**
 * Ready means ipgate can do its whole job: Redis answers `PING`, so grants can be checked,
 * and accepts a write, so logins can be recorded. A Redis that answers but refuses writes
 * still allows every existing grant; only new logins fail (the webhook answers 503).
 */
export async function checkReadiness(store: GrantStore): Promise<Readiness> {
  try {
    await store.ping();
  } catch (error) {
    // A Redis that stopped writes after a failed save refuses PING as well.
    return notReady(error, 'PING');
  }
  try {
    await store.probeWrite();
    return { ready: true };
  } catch (error) {
    return notReady(error, 'writes');
  }
}

function notReady(error: unknown, asked: 'PING' | 'writes'): Readiness {
  const cause = error instanceof StoreUnavailableError ? error.cause : error;
  if (!(cause instanceof Error) || cause.name !== 'ReplyError') {
    return { ready: false, reason: `redis does not answer ${asked}`, error: cause };
  }
  // Only the reply's code, never its text, goes into the answer.
  const code = /^[A-Z]+/.exec(cause.message)?.[0] ?? 'ERR';
  return {
    ready: false,
    reason: REFUSALS[code] ?? `redis refuses ${asked} (${code})`,
    error: cause,
  };
}
