import type { Context } from 'hono';
import { type GrantWidths, grantFor } from './grant.js';
import type { GrantStore, PutOutcome } from './grant-store.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { secretMatches } from './secret.js';
import { createThrottle } from './throttle.js';
import { parseWebhookPayload, type WebhookLogin } from './webhook-payload.js';

/** Largest webhook body accepted, in bytes; larger ones get 413. */
export const MAX_WEBHOOK_BYTES = 64 * 1024;

/** What the webhook needs: the secret (undefined disables it), the store, the grant rules. */
export interface WebhookOptions extends GrantWidths {
  readonly secret: string | undefined;
  readonly grantTtlSeconds: number;
  readonly store: GrantStore;
  readonly events: { announce(grant: string): Promise<void> };
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
}

/**
 * The Authentik notification webhook. The secret comes as `Authorization: Bearer <secret>`
 * (Authentik 2025.4+ header mapping) or `?token=<secret>`. Logins become grants; other
 * notifications are answered `ignored` with a reason, so Authentik does not retry them.
 * Redis trouble answers 503, which Authentik retries, so no login is lost.
 */
export function createWebhookHandler(options: WebhookOptions) {
  const { secret, logger } = options;
  const shouldWarn = createThrottle(60_000);

  return async function authentikWebhook(c: Context): Promise<Response> {
    if (secret === undefined) {
      options.metrics.webhook('disabled');
      return problem(
        c,
        503,
        'webhook_disabled',
        'WEBHOOK_SECRET is not set, so the webhook is disabled',
      );
    }
    if (!secretMatches(presentedSecret(c), secret)) {
      warnOnce(logger, shouldWarn, 'unauthorized', 'missing or wrong secret');
      options.metrics.webhook('unauthorized');
      return problem(
        c,
        401,
        'unauthorized',
        'missing or wrong secret: send Authorization: Bearer <secret>',
      );
    }

    const text = await c.req.text();
    let body: unknown = {};
    try {
      if (text.trim() !== '') body = JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unparseable';
      warnOnce(logger, shouldWarn, 'invalid_json', reason);
      options.metrics.webhook('invalid_json');
      return problem(c, 400, 'invalid_json', `body is not valid JSON: ${reason}`);
    }

    const payload = parseWebhookPayload(body, options.now(), options.grantTtlSeconds);
    if (payload.kind === 'invalid') {
      warnOnce(logger, shouldWarn, 'invalid_payload', payload.message);
      options.metrics.webhook('invalid_payload');
      return problem(c, 400, 'invalid_payload', payload.message);
    }
    if (payload.kind === 'ignored') {
      warnOnce(logger, shouldWarn, 'ignored', payload.reason);
      options.metrics.webhook('ignored');
      return c.json({ status: 'ignored', reason: payload.reason });
    }
    return grant(c, payload, options);
  };
}

async function grant(c: Context, login: WebhookLogin, options: WebhookOptions): Promise<Response> {
  const name = grantFor(login.address, options);
  const expiresAt = login.loginAt + options.grantTtlSeconds * 1000;
  const record = {
    ...(login.user === undefined ? {} : { user: login.user }),
    ...(login.eventId === undefined ? {} : { eventId: login.eventId }),
    loginAt: new Date(login.loginAt).toISOString(),
  };

  let outcome: PutOutcome;
  try {
    outcome = await options.store.put(name, record, expiresAt, {
      source: 'webhook',
      ip: login.address.text,
    });
  } catch (error) {
    options.metrics.webhook('store_unavailable');
    options.logger.warn({ err: error, grant: name }, 'grant not stored: redis unavailable');
    return problem(
      c,
      503,
      'store_unavailable',
      'Redis is unavailable; the login was not stored, retry later',
    );
  }

  if (outcome.status === 'expired') {
    const reason = 'the grant would already have expired';
    options.logger.warn({ grant: name, code: 'ignored', detail: reason }, 'webhook ignored');
    options.metrics.webhook('ignored');
    return c.json({ status: 'ignored', reason });
  }
  options.metrics.webhook(outcome.status === 'stored' ? 'granted' : 'kept');
  if (outcome.status === 'stored') {
    options.metrics.grantsWritten('webhook');
    // Other replicas may have cached "no grant" for this address.
    await options.events.announce(name).catch((error: unknown) => {
      options.logger.warn({ err: error, grant: name }, 'grant stored but not announced');
    });
  }
  const expiry = outcome.expiresAt?.toISOString() ?? null;
  const fields = {
    grant: name,
    user: login.user,
    ip: login.address.text,
    eventId: login.eventId,
    action: login.action,
    expiresAt: expiry,
  };
  options.logger.info(
    fields,
    outcome.status === 'stored' ? 'grant stored' : 'grant kept: a longer one exists',
  );
  return c.json({ status: 'granted', grant: name, expiresAt: expiry });
}

function presentedSecret(c: Context): string | undefined {
  const authorization = c.req.header('authorization');
  const match =
    authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match?.[1] ?? c.req.query('token');
}

function problem(
  c: Context,
  status: 400 | 401 | 413 | 503,
  error: string,
  message: string,
): Response {
  return c.json({ error, message }, status);
}

function warnOnce(
  logger: Logger,
  shouldWarn: (key: string) => boolean,
  code: string,
  detail: string,
): void {
  const message = code === 'ignored' ? 'webhook ignored' : 'webhook rejected';
  if (shouldWarn(`${code}:${detail}`)) logger.warn({ code, detail: detail.slice(0, 200) }, message);
  else logger.debug({ code, detail: detail.slice(0, 200) }, message);
}
