import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Answer, contentLength, sendAnswer } from './answer.js';
import type { DecisionLogging } from './config.js';
import { createDecider, type Decision, type DecisionRules } from './decision.js';
import { denyPage, wantsHtml } from './deny-page.js';
import type { Logger } from './logger.js';
import { memoize } from './memo.js';
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

/** The path `/verify` is asked on; any query after it is ignored. */
export const VERIFY_PATH = '/verify';

/**
 * True when a request target names `/verify`, with or without a query, in origin form
 * (`/verify?…`) or in the absolute form (`http://ipgate/verify`) that RFC 9112 §3.2.2
 * says a server must accept too.
 */
export function isVerifyTarget(target: string | undefined): boolean {
  if (target === undefined) return false;
  if (!target.startsWith('/')) return absolutePath(target) === VERIFY_PATH;
  if (!target.startsWith(VERIFY_PATH)) return false;
  return target.length === VERIFY_PATH.length || target[VERIFY_PATH.length] === '?';
}

/** The path of an absolute-form target, or undefined when it is not an http(s) URL. */
function absolutePath(target: string): string | undefined {
  try {
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.pathname : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The forward-auth endpoint, as a Node request listener. Any method and any query get the
 * same decision: 200 with an empty body to allow, 403 with a short text to deny (a small
 * HTML page for browsers when DENY_LOGIN_URL is set), 503 when Redis cannot tell. Nothing
 * is cacheable, since the same URL is asked for every client.
 *
 * It answers straight from Node's request rather than through the Hono app: proxies ask
 * it before every request they pass on, and building Hono's request, context and response
 * for each cost more than deciding (docs/performance.md).
 */
export function createVerifyListener(rules: DecisionRules, options: VerifyOptions) {
  const decide = createDecider(rules);
  const { metrics, logger } = options;
  const logAll = options.logDecisions === 'all';
  const logDenials = options.logDecisions !== 'none';

  return function verify(request: IncomingMessage, response: ServerResponse): void {
    const started = performance.now();
    try {
      const decision = decide(request.socket.remoteAddress, forwardedFor(request.rawHeaders));
      if (decision instanceof Promise) {
        metrics.cacheMisses.inc();
        decision
          .then((settled) => respond(settled, request, response, started, true))
          .catch((error: unknown) => fail(error, request, response));
        return;
      }
      const reason = decision.result === 'unavailable' ? undefined : decision.reason;
      if (reason === 'grant' || reason === 'no-grant') metrics.cacheHits.inc();
      respond(decision, request, response, started, false);
    } catch (error) {
      fail(error, request, response);
    }
  };

  function respond(
    decision: Decision,
    request: IncomingMessage,
    response: ServerResponse,
    started: number,
    redis: boolean,
  ): void {
    const reason = decision.result === 'unavailable' ? 'store-unavailable' : decision.reason;
    metrics.decided(reason, started, redis);
    if (logAll || (logDenials && decision.result !== 'allow')) {
      logDecision(logger, decision, reason, request.headers);
    }
    sendAnswer(response, answerFor(decision, request.headers, options.denyLoginUrl));
  }

  // The same answer as the Hono app's error handler: logged, and nothing internal shown.
  function fail(error: unknown, request: IncomingMessage, response: ServerResponse): void {
    logger.error({ err: error, method: request.method, path: VERIFY_PATH }, 'request failed');
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const body = 'Internal Server Error\n';
    const headers = {
      'Content-Type': 'text/plain; charset=UTF-8',
      'Content-Length': contentLength(body),
    };
    sendAnswer(response, { status: 500, headers, body });
  }
}

/**
 * The request's X-Forwarded-For lines joined with ", ", as Node joins them in `headers`.
 * Read from the raw list, because Node builds `headers` only when first asked for, and
 * an allow needs no other header.
 */
export function forwardedFor(rawHeaders: readonly string[]): string | undefined {
  let joined: string | undefined;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] as string;
    if (name.length !== 15 || name.toLowerCase() !== 'x-forwarded-for') continue;
    const value = rawHeaders[index + 1] as string;
    joined = joined === undefined ? value : `${joined}, ${value}`;
  }
  return joined;
}

function answerFor(
  decision: Decision,
  headers: IncomingHttpHeaders,
  denyLoginUrl: URL | undefined,
): Answer {
  switch (decision.result) {
    case 'allow':
      return decision.reason === 'grant' ? grantAllow(decision.user ?? '') : STATIC_ALLOW;
    case 'deny':
      // A browser that asked directly gets a page with a sign-in link (DENY_LOGIN_URL).
      if (decision.reason === 'no-grant' && denyLoginUrl && wantsHtml(headers.accept)) {
        return denyPage(decision.client.text, denyLoginUrl, headers);
      }
      return denial(403, decision.reason, `Forbidden: ${denyMessage(decision)}\n`);
    case 'unavailable':
      return denial(
        503,
        'store-unavailable',
        'Service Unavailable: sign-ins cannot be checked right now\n',
      );
  }
}

// An allow's answer is built once (static) or once per user name: the same few headers
// are sent again and again. X-Ipgate-User is always present, empty when nobody signed in
// (static CIDR, or a grant without a name), so that every proxy overwrites a value the
// client may have sent itself. Caddy 2.6 would otherwise pass its literal placeholder
// text to the app.
function allow(reason: string, user: string): Answer {
  const headers = Object.freeze({
    'Cache-Control': 'no-store',
    'Content-Length': '0',
    [REASON_HEADER]: reason,
    [USER_HEADER]: headerSafe(user),
  });
  return Object.freeze({ status: 200, headers, body: '' });
}

const STATIC_ALLOW = allow('static', '');
const grantAllow = memoize((user) => allow('grant', user), 1024);

function denial(status: number, reason: string, body: string): Answer {
  const headers = {
    'Cache-Control': 'no-store',
    'Content-Type': 'text/plain; charset=UTF-8',
    'Content-Length': contentLength(body),
    [REASON_HEADER]: reason,
  };
  return { status, headers, body };
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
function logDecision(
  logger: Logger,
  decision: Decision,
  reason: string,
  headers: IncomingHttpHeaders,
): void {
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
