import { type Context, Hono } from 'hono';
import { StoreUnavailableError } from './errors.js';
import type { GrantWidths } from './grant.js';
import type { GrantStore, ListedGrant } from './grant-store.js';
import type { Logger } from './logger.js';
import {
  checkGrantTarget,
  checkText,
  checkTtl,
  MAX_NOTE_LENGTH,
  MAX_USER_LENGTH,
} from './manual-grant.js';
import type { Metrics } from './metrics.js';
import { secretMatches } from './secret.js';

/** Most grants one list request may ask SCAN for. */
export const MAX_PAGE_SIZE = 1000;

/** What the admin API works on. */
export interface AdminOptions extends GrantWidths {
  /** ADMIN_TOKEN; the API is mounted only when it is set. */
  readonly token: string;
  readonly store: GrantStore;
  readonly events: { announce(grant: string): Promise<void> };
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
}

/**
 * The admin API under `/admin`: list, show, add and revoke grants, and revoke every grant
 * of a user. Every request needs `Authorization: Bearer <ADMIN_TOKEN>`, compared in
 * constant time. Revokes are announced, so every replica forgets the grant at once.
 */
export function createAdminApi(options: AdminOptions): Hono {
  const api = new Hono();
  const { store, logger } = options;

  api.use('*', async function adminAuth(c, next) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header('authorization') ?? '');
    if (!secretMatches(match?.[1], options.token)) {
      return problem(c, 401, 'unauthorized', 'send Authorization: Bearer <ADMIN_TOKEN>');
    }
    c.header('Cache-Control', 'no-store');
    await next();
    return undefined;
  });
  api.onError(function adminError(error, c) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    logger.warn({ err: error, path: c.req.path }, 'admin request failed: redis unavailable');
    return c.json(
      { error: 'store_unavailable', message: 'Redis is unavailable; retry later' },
      503,
    );
  });

  api.get('/grants', async function listGrants(c) {
    const cursor = c.req.query('cursor') ?? '0';
    const count = Number(c.req.query('count') ?? '100');
    if (!/^\d{1,20}$/.test(cursor)) {
      return problem(
        c,
        400,
        'invalid_cursor',
        'cursor must be the number a previous page returned, or 0',
      );
    }
    if (!Number.isInteger(count) || count < 1 || count > MAX_PAGE_SIZE) {
      return problem(
        c,
        400,
        'invalid_count',
        `count must be an integer from 1 to ${MAX_PAGE_SIZE}`,
      );
    }
    const page = await store.list(cursor, count);
    return c.json({ grants: page.grants.map(describeGrant), cursor: page.cursor });
  });

  api.get('/grants/:grant{.+}', async function showGrant(c) {
    const grant = checkGrantTarget(c.req.param('grant'), options);
    if (!grant.ok) return problem(c, 400, 'invalid_grant', grant.message);
    const found = await store.lookup(grant.value);
    if (found === undefined) return problem(c, 404, 'not_found', `no grant ${grant.value}`);
    const ttlMs = found.expiresAt === null ? null : Math.max(0, found.expiresAt - Date.now());
    return c.json(describeGrant({ grant: grant.value, record: found.record, ttlMs }));
  });

  api.post('/grants', async function addGrant(c) {
    const body = await readJson(c);
    if (body === undefined) {
      return problem(
        c,
        400,
        'invalid_json',
        'expected a JSON object: {"address","ttl","user","note"}',
      );
    }
    const grant = checkGrantTarget(stringField(body, 'address') ?? '', options);
    if (!grant.ok) return problem(c, 400, 'invalid_address', grant.message);
    const ttl = checkTtl(String(body.ttl ?? ''));
    if (!ttl.ok) return problem(c, 400, 'invalid_ttl', ttl.message);
    const user = checkText('user', stringField(body, 'user'), MAX_USER_LENGTH);
    if (!user.ok) return problem(c, 400, 'invalid_user', user.message);
    const note = checkText('note', stringField(body, 'note'), MAX_NOTE_LENGTH);
    if (!note.ok) return problem(c, 400, 'invalid_note', note.message);

    const now = options.now();
    const record = {
      ...(user.value === undefined ? {} : { user: user.value }),
      loginAt: new Date(now).toISOString(),
      ...(note.value === undefined ? {} : { note: note.value }),
    };
    const expiresAt = now + ttl.value * 1000;
    await store.set(grant.value, record, expiresAt, { source: 'admin' });
    await announce(options, grant.value);
    options.metrics.grantsWritten('admin');
    logger.info({ grant: grant.value, user: user.value, expiresAt }, 'grant added by admin');
    const expiry = new Date(expiresAt).toISOString();
    return c.json({ status: 'granted', grant: grant.value, expiresAt: expiry }, 201);
  });

  api.delete('/grants/:grant{.+}', async function revokeGrant(c) {
    const grant = checkGrantTarget(c.req.param('grant'), options);
    if (!grant.ok) return problem(c, 400, 'invalid_grant', grant.message);
    const record = await store.revoke(grant.value, { source: 'admin' });
    if (record === undefined) return problem(c, 404, 'not_found', `no grant ${grant.value}`);
    await announce(options, grant.value);
    options.metrics.grantsRevoked('admin');
    logger.info({ grant: grant.value, user: record.user }, 'grant revoked by admin');
    return c.json({ status: 'revoked', grant: grant.value, user: record.user ?? null });
  });

  api.delete('/grants', async function revokeUser(c) {
    const user = checkText('user', c.req.query('user'), MAX_USER_LENGTH);
    if (!user.ok || user.value === undefined) {
      return problem(c, 400, 'invalid_user', 'give ?user=<name> to revoke every grant of a user');
    }
    const revoked: string[] = [];
    for (const listed of await store.findByUser(user.value)) {
      if ((await store.revoke(listed.grant, { source: 'admin' })) === undefined) continue;
      await announce(options, listed.grant);
      revoked.push(listed.grant);
    }
    options.metrics.grantsRevoked('admin', revoked.length);
    logger.info({ user: user.value, grants: revoked }, 'grants of a user revoked by admin');
    return c.json({ status: 'revoked', user: user.value, grants: revoked });
  });

  return api;
}

/** A listed grant as the API and `ipgate grants --json` show it. */
export function describeGrant(listed: ListedGrant) {
  const { record } = listed;
  return {
    grant: listed.grant,
    user: record.user ?? null,
    loginAt: record.loginAt ?? null,
    eventId: record.eventId ?? null,
    note: record.note ?? null,
    ttlSeconds: listed.ttlMs === null ? null : Math.ceil(listed.ttlMs / 1000),
  };
}

// The cache of every replica drops the grant; a failed announcement still leaves the
// revoke in Redis, where cached answers end within CACHE_TTL (or 750 ms without keyspace notifications).
async function announce(options: AdminOptions, grant: string): Promise<void> {
  await options.events.announce(grant).catch((error: unknown) => {
    options.logger.warn({ err: error, grant }, 'grant changed but not announced');
  });
}

async function readJson(c: Context): Promise<Record<string, unknown> | undefined> {
  try {
    const body: unknown = await c.req.json();
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  return typeof value === 'string' ? value : undefined;
}

function problem(c: Context, status: 400 | 401 | 404, error: string, message: string): Response {
  return c.json({ error, message }, status);
}
