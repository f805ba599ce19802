import type { RequestListener } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createAdminApi } from './admin.js';
import { CidrSet } from './cidr-set.js';
import type { Config } from './config.js';
import type { GrantSource } from './decision.js';
import type { GrantStore } from './grant-store.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { checkReadiness } from './readiness.js';
import { secretMatches } from './secret.js';
import { createThrottle } from './throttle.js';
import { createVerifyListener } from './verify.js';
import { createWebhookHandler, MAX_WEBHOOK_BYTES } from './webhook.js';

/**
 * What the app is built on: the grant store, where decisions find grants (usually the
 * cache in front of the store), where grant changes are announced, a logger, and a clock
 * (ms since the epoch).
 */
export interface AppDeps {
  readonly store: GrantStore;
  readonly grants: GrantSource;
  readonly events: { announce(grant: string): Promise<void> };
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

/** ipgate's endpoints: `/verify` as a Node request listener, and a Hono app for the rest. */
export interface App {
  readonly verify: RequestListener;
  readonly hono: Hono<{ Bindings: HttpBindings }>;
}

/**
 * Builds ipgate's HTTP endpoints: `/verify` (forward auth), `POST /authentik/webhook`,
 * `/healthz` (liveness, no Redis), `/readyz` (Redis answers and accepts writes), `/metrics`
 * (Prometheus) and, with ADMIN_TOKEN, `/admin`. CIDR lists are compiled here, once.
 */
export function createApp(config: Config, deps: AppDeps): App {
  const { store, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const app = new Hono<{ Bindings: HttpBindings }>();

  const rules = {
    trustedProxies: new CidrSet(config.trustedProxies),
    staticCidrs: new CidrSet(config.staticCidrs),
    ipv4Prefix: config.ipv4Prefix,
    ipv6Prefix: config.ipv6Prefix,
    grants: deps.grants,
  };
  const verify = createVerifyListener(rules, {
    logger,
    metrics,
    logDecisions: config.logDecisions,
    denyLoginUrl: config.denyLoginUrl,
  });

  const webhookLimit = bodyLimit({
    maxSize: MAX_WEBHOOK_BYTES,
    onError: (c) => {
      metrics.webhook('payload_too_large');
      return c.json(
        { error: 'payload_too_large', message: `body is larger than ${MAX_WEBHOOK_BYTES} bytes` },
        413,
      );
    },
  });
  const webhook = createWebhookHandler({
    secret: config.webhookSecret,
    grantTtlSeconds: config.grantTtlSeconds,
    ipv4Prefix: config.ipv4Prefix,
    ipv6Prefix: config.ipv6Prefix,
    store,
    events: deps.events,
    logger,
    metrics,
    now,
  });
  app.post('/authentik/webhook', webhookLimit, webhook);
  app.all('/authentik/webhook', (c) =>
    c.json({ error: 'method_not_allowed', message: 'use POST' }, 405, { Allow: 'POST' }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  const shouldWarn = createThrottle(60_000);
  app.get('/readyz', async function readiness(c) {
    c.header('Cache-Control', 'no-store');
    const readiness = await checkReadiness(store);
    if (readiness.ready) return c.json({ status: 'ready' });
    if (shouldWarn(readiness.reason)) {
      logger.warn({ err: readiness.error, reason: readiness.reason }, 'not ready');
    }
    return c.json({ status: 'unavailable', reason: readiness.reason }, 503);
  });

  const metricsToken = config.metricsToken;
  app.get('/metrics', async function prometheus(c) {
    if (metricsToken !== undefined) {
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header('authorization') ?? '');
      if (!secretMatches(match?.[1], metricsToken)) return c.text('Unauthorized\n', 401);
    }
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'Content-Type': metrics.registry.contentType });
  });

  if (config.adminToken !== undefined) {
    const admin = createAdminApi({
      token: config.adminToken,
      store,
      events: deps.events,
      logger,
      metrics,
      ipv4Prefix: config.ipv4Prefix,
      ipv6Prefix: config.ipv6Prefix,
      now,
    });
    app.route('/admin', admin);
  }

  app.notFound((c) => c.text('Not Found\n', 404));
  app.onError(function handleError(error, c) {
    logger.error({ err: error, method: c.req.method, path: c.req.path }, 'request failed');
    return c.text('Internal Server Error\n', 500);
  });
  return { verify, hono: app };
}
