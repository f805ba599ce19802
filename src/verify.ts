import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { createDecider, type Decision, type DecisionRules } from './decision.js';
import type { Logger } from './logger.js';

/** Response headers naming why a request was allowed, and for a grant, by whom. */
export const REASON_HEADER = 'X-Ipgate-Reason';
export const USER_HEADER = 'X-Ipgate-User';

const DENY_MESSAGES: Readonly<Record<string, string>> = {
  'untrusted-peer': 'this endpoint answers trusted proxies only',
  'no-forwarded-for': 'the proxy sent no X-Forwarded-For header',
  'bad-forwarded-for': 'X-Forwarded-For holds an entry that is not an IP address',
  'too-many-hops': 'X-Forwarded-For holds too many trusted proxies',
};

/**
 * The forward-auth endpoint. Any method and any query get the same decision: 200 with an
 * empty body to allow, 403 with a short text to deny, 503 when Redis cannot tell. Nothing
 * is cacheable, since the same URL is asked for every client.
 */
export function createVerifyHandler(rules: DecisionRules, logger: Logger) {
  const decide = createDecider(rules);

  return function verify(c: Context<{ Bindings: HttpBindings }>): Response | Promise<Response> {
    // Read from Node's own message: Node joins repeated X-Forwarded-For lines with ", ",
    // and building a fetch Headers object for every request would cost more than deciding.
    const { incoming } = c.env;
    const forwardedFor = incoming.headers['x-forwarded-for'];
    const joined = Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor;
    const decision = decide(incoming.socket.remoteAddress, joined);

    if (decision instanceof Promise) return decision.then((settled) => answer(settled, c));
    return answer(decision, c);
  };

  function answer(decision: Decision, c: Context): Response {
    logDecision(logger, decision, c);
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
// behind the gate; a debug log must not keep it.
const TOKEN_PARAMETER = /([?&]token=)[^&#]*/gi;

function logDecision(logger: Logger, decision: Decision, c: Context): void {
  if (decision.result === 'unavailable') {
    logger.debug({ client: decision.client.text, err: decision.error }, 'decision unavailable');
    return;
  }
  if (!logger.isLevelEnabled('debug')) return;
  logger.debug(
    {
      result: decision.result,
      reason: decision.reason,
      client: 'client' in decision ? decision.client.text : undefined,
      host: c.req.header('x-forwarded-host')?.slice(0, 256),
      uri: c.req.header('x-forwarded-uri')?.slice(0, 256).replace(TOKEN_PARAMETER, '$1[redacted]'),
    },
    'decision',
  );
}
