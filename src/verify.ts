import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { DecisionLogging } from './config.js';
import { createDecider, type Decision, type DecisionRules } from './decision.js';
import { denyPage, wantsHtml } from './deny-page.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Response headers naming why a request was allowed, and for a grant, by whom. */
export const REASON_HEADER = 'X-Ipgate-Reason';
export const USER_HEADER = 'X-Ipgate-User';

const DENY_MESSAGES: Readonly<Record<string, string>> = {
  'untrusted-peer': 'this endpoint answers trusted proxies only',
  'no-forwarded-for': 'the proxy sent no X-Forwarded-For header',
  'bad-forwarded-for': 'X-Forwarded-For holds an entry that is not an IP address',
  'too-many-hops': 'X-Forwarded-For holds too many trusted proxies',
};

/** How `/verify` reports and explains its decisions. */
export interface VerifyOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Which decisions get an info line (LOG_DECISIONS). */
  readonly logDecisions: DecisionLogging;
  /** Where the deny page sends people to sign in (DENY_LOGIN_URL); undefined: no page. */
  readonly denyLoginUrl: URL | undefined;
}

type VerifyContext = Context<{ Bindings: HttpBindings }>;

/**
 * The forward-auth endpoint. Any method and any query get the same decision: 200 with an
 * empty body to allow, 403 with a short text to deny (a small HTML page for browsers
 * when DENY_LOGIN_URL is set), 503 when Redis cannot tell. Nothing is cacheable, since
 * the same URL is asked for every client.
 */
export function createVerifyHandler(rules: DecisionRules, options: VerifyOptions) {
  const decide = createDecider(rules);
  const { metrics } = options;
  const logAll = options.logDecisions === 'all';
  const logDenials = options.logDecisions !== 'none';

  return function verify(c: VerifyContext): Response | Promise<Response> {
    const started = performance.now();
    // Read from Node's own message: Node joins repeated X-Forwarded-For lines with ", ",
    // and building a fetch Headers object for every request would cost more than deciding.
    const { incoming } = c.env;
    const forwardedFor = incoming.headers['x-forwarded-for'];
    const joined = Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor;
    const decision = decide(incoming.socket.remoteAddress, joined);

    if (decision instanceof Promise) {
      metrics.cacheMisses.inc();
      return decision.then((settled) => answer(settled, c, started, true));
    }
    const reason = decision.result === 'unavailable' ? undefined : decision.reason;
    if (reason === 'grant' || reason === 'no-grant') metrics.cacheHits.inc();
    return answer(decision, c, started, false);
  };

  function answer(decision: Decision, c: VerifyContext, started: number, redis: boolean) {
    const reason = decision.result === 'unavailable' ? 'store-unavailable' : decision.reason;
    metrics.decided(decision.result, reason, started, redis);
    if (logAll || (logDenials && decision.result !== 'allow')) {
      logDecision(options.logger, decision, reason, c);
    }
    if (decision.result === 'deny' && decision.reason === 'no-grant') {
      const headers = c.env.incoming.headers;
      if (options.denyLoginUrl !== undefined && wantsHtml(headers.accept)) {
        return denyPage(decision.client.text, options.denyLoginUrl, headers);
      }
    }
    return respond(decision);
  }
}

// Responses are built with plain header objects, which @hono/node-server writes directly.
function respond(decision: Decision): Response {
  switch (decision.result) {
    case 'allow':
      return new Response('', {
        status: 200,
        headers: {
          'Cache-Control': 'no-store',
          [REASON_HEADER]: decision.reason,
          // Always present, empty when nobody signed in (static CIDR, or a grant without a
          // name), so that every proxy overwrites a value the client may have sent itself.
          // Caddy 2.6 would otherwise pass its literal placeholder text to the app.
          [USER_HEADER]: decision.reason === 'grant' ? headerSafe(decision.user ?? '') : '',
        },
      });
    case 'deny':
      return text(403, decision.reason, `Forbidden: ${denyMessage(decision)}\n`);
    case 'unavailable':
      return text(
        503,
        'store-unavailable',
        'Service Unavailable: sign-ins cannot be checked right now\n',
      );
  }
}

function text(status: number, reason: string, body: string): Response {
  const headers = {
    'Cache-Control': 'no-store',
    'Content-Type': 'text/plain; charset=UTF-8',
    [REASON_HEADER]: reason,
  };
  return new Response(body, { status, headers });
}

function denyMessage(decision: Extract<Decision, { result: 'deny' }>): string {
  if (decision.reason === 'no-grant') return `no recent sign-in from ${decision.client.text}`;
  return DENY_MESSAGES[decision.reason] ?? decision.reason;
}

// Header values must be Latin-1 without control characters; a name outside printable
// ASCII (or holding `%`) is sent percent-encoded as UTF-8.
function headerSafe(user: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(user) ? user : encodeURIComponent(user);
}

// The webhook's own `?token=<secret>` passes through here when the webhook is routed
// behind the gate; a decision log must not keep it.
const TOKEN_PARAMETER = /([?&]token=)[^&#]*/gi;

// One info line per logged decision, with what the proxy's access log also shows. Header
// values are the client's own words: truncated, under named fields.
function logDecision(logger: Logger, decision: Decision, reason: string, c: VerifyContext): void {
  const headers = c.env.incoming.headers;
  logger.info(
    {
      result: decision.result,
      reason,
      client: 'client' in decision ? decision.client.text : undefined,
      host: firstValue(headers['x-forwarded-host'])?.slice(0, 256),
      path: firstValue(headers['x-forwarded-uri'])
        ?.slice(0, 256)
        .replace(TOKEN_PARAMETER, '$1[redacted]'),
      ...(decision.result === 'allow' && decision.reason === 'grant'
        ? { user: decision.user }
        : {}),
      ...(decision.result === 'unavailable' ? { err: decision.error } : {}),
    },
    'decision',
  );
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
