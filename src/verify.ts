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

  return async function verify(c: Context<{ Bindings: HttpBindings }>): Promise<Response> {
    const peer = c.env.incoming.socket.remoteAddress;
    const decision = await decide(peer, c.req.header('x-forwarded-for'));

    logDecision(logger, decision, c);
    c.header('Cache-Control', 'no-store');
    return respond(c, decision);
  };
}

function respond(c: Context, decision: Decision): Response {
  switch (decision.result) {
    case 'allow':
      c.header(REASON_HEADER, decision.reason);
      // Always present, empty when nobody signed in (static CIDR, or a grant without a
      // name), so that every proxy overwrites a value the client may have sent itself.
      // Caddy 2.6 would otherwise pass its literal placeholder text to the app.
      c.header(USER_HEADER, decision.reason === 'grant' ? headerSafe(decision.user ?? '') : '');
      return c.body('', 200);
    case 'deny':
      c.header(REASON_HEADER, decision.reason);
      return c.text(`Forbidden: ${denyMessage(decision)}\n`, 403);
    case 'unavailable':
      c.header(REASON_HEADER, 'store-unavailable');
      return c.text('Service Unavailable: sign-ins cannot be checked right now\n', 503);
  }
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
      uri: c.req.header('x-forwarded-uri')?.slice(0, 256),
    },
    'decision',
  );
}
