import { type IpAddress, isNonClientAddress, parsePlainIpAddress } from './ip-address.js';

/** Authentik event actions that grant: a sign-in, and a signed-in user opening an app. */
export const GRANTING_ACTIONS: readonly string[] = ['login', 'authorize_application'];

/** How far in the future a payload's `created` may be (clock skew) before it is distrusted. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const MAX_USER_LENGTH = 256;

/** A login to record: the client address, who signed in, and when (ms since the epoch). */
export interface WebhookLogin {
  readonly kind: 'login';
  readonly address: IpAddress;
  readonly action: string;
  readonly loginAt: number;
  readonly user?: string;
  readonly eventId?: string;
}

/**
 * What a webhook body asks for: a login to record; a well-formed notification that grants
 * nothing (`reason` tells the operator what to change); or a body that is wrong.
 */
export type WebhookPayload =
  | WebhookLogin
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly message: string };

// Thrown by the readers below and turned into an `ignored` or `invalid` payload at the top.
class Rejection {
  constructor(readonly payload: Exclude<WebhookPayload, WebhookLogin>) {}
}

type Field = (name: string) => unknown;

/**
 * Reads a parsed JSON body: the body mapping from docs/authentik.md (`client_ip`,
 * `username`, `event_id`, `action`, `created`), or the old recipe's top-level `ip` or
 * `client_ip`. A body without `action` is taken as a login, as the old recipe sent it.
 */
export function parseWebhookPayload(
  body: unknown,
  now: number,
  grantTtlSeconds: number,
): WebhookPayload {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('body must be a JSON object');
  }
  // Own properties only: a body may carry keys such as `__proto__` or `constructor`.
  const field: Field = (name) => (Object.hasOwn(body, name) ? (body as never)[name] : undefined);

  try {
    const action = readAction(field);
    const address = readAddress(field);
    const user = readUser(field);
    const eventId = readEventId(field('event_id'));
    const loginAt = readLoginTime(field('created'), now);
    if (loginAt + grantTtlSeconds * 1000 <= now) {
      const created = new Date(loginAt).toISOString();
      return ignored(`the event was created at ${created}, longer ago than GRANT_TTL`);
    }
    return {
      kind: 'login',
      address,
      action,
      loginAt,
      ...(user === undefined ? {} : { user }),
      ...(eventId === undefined ? {} : { eventId }),
    };
  } catch (error) {
    if (error instanceof Rejection) return error.payload;
    throw error;
  }
}

function readAction(field: Field): string {
  const action = field('action');
  if (action === undefined) {
    rejectDefaultBody(field);
    return 'login';
  }
  if (typeof action !== 'string') throw new Rejection(invalid('action must be a string'));
  if (GRANTING_ACTIONS.includes(action)) return action;
  if (action.endsWith('notification_test')) {
    throw new Rejection(
      ignored('Authentik test notification: the transport and its body mapping work'),
    );
  }
  const allowed = GRANTING_ACTIONS.join(' and ');
  throw new Rejection(
    ignored(
      `action "${truncate(action)}" grants nothing (only ${allowed} do): check the rule's policies`,
    ),
  );
}

// Authentik's default body (no body mapping) has `body`, `severity` and `user_*` only:
// the client IP is not in it. Its Test button sends the same shape.
function rejectDefaultBody(field: Field): void {
  if (field('client_ip') !== undefined || field('ip') !== undefined) return;
  const text = field('body');
  if (
    field('kind') === 'test' ||
    (typeof text === 'string' && text.startsWith('Test Notification'))
  ) {
    throw new Rejection(
      ignored(
        'Authentik test notification: the transport works; logins also need the body mapping from docs/authentik.md',
      ),
    );
  }
  if (typeof text === 'string') {
    throw new Rejection(
      ignored(
        "Authentik's default body has no client IP: give the transport the body mapping from docs/authentik.md",
      ),
    );
  }
}

function readAddress(field: Field): IpAddress {
  // `client_ip` from the body mapping wins, even when null; `ip` is the old recipe's name.
  const name = field('client_ip') === undefined ? 'ip' : 'client_ip';
  const value = field(name);
  if (value === undefined) {
    throw new Rejection(
      ignored(
        'no client_ip in the payload: give the transport the body mapping from docs/authentik.md',
      ),
    );
  }
  if (value === null) {
    throw new Rejection(
      ignored(`${name} is null: Authentik recorded no client address for this event`),
    );
  }
  if (typeof value !== 'string') throw new Rejection(invalid(`${name} must be a string`));

  const address = parsePlainIpAddress(value.trim());
  if (address === undefined) {
    throw new Rejection(invalid(`${name} "${truncate(value)}" is not an IP address`));
  }
  if (address.text === '255.255.255.255' || isNonClientAddress(address)) {
    throw new Rejection(
      ignored(
        `client_ip ${address.text} is not a client address: Authentik sees a proxy or nothing; check AUTHENTIK_LISTEN__TRUSTED_PROXY_CIDRS`,
      ),
    );
  }
  return address;
}

// `username` from the body mapping; `user` (a name, or Authentik's {username, pk, email})
// and `event_user_username` (the default body) as fallbacks.
function readUser(field: Field): string | undefined {
  const nested = field('user');
  const fromNested =
    typeof nested === 'object' && nested !== null && !Array.isArray(nested)
      ? Object.hasOwn(nested, 'username')
        ? (nested as Record<string, unknown>).username
        : undefined
      : nested;
  const user = [field('username'), fromNested, field('event_user_username')].find(
    (candidate) => candidate !== undefined && candidate !== null,
  );
  if (user === undefined || user === '') return undefined;
  if (typeof user !== 'string' || user.length > MAX_USER_LENGTH) {
    throw new Rejection(
      invalid(`username must be a string of at most ${MAX_USER_LENGTH} characters`),
    );
  }
  return user;
}

function readEventId(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(text)) {
    throw new Rejection(
      invalid('event_id must be a string of 1 to 128 printable ASCII characters'),
    );
  }
  return text;
}

// `created` is ISO 8601 in UTC (`2026-09-10T08:15:42.123456Z`, or without the fraction).
// A time in the future beyond clock skew, or one that does not parse, is not trusted:
// the login then counts from now. A slightly early clock never extends a grant.
function readLoginTime(value: unknown, now: number): number {
  if (typeof value !== 'string') return now;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.exec(
    value,
  );
  if (match === null) return now;
  const [, seconds = '', fraction = '', zone = ''] = match;
  const time = Date.parse(`${seconds}${fraction.slice(0, 4)}${zone}`);
  if (Number.isNaN(time) || time > now + MAX_CLOCK_SKEW_MS) return now;
  return Math.min(time, now);
}

function ignored(reason: string): { kind: 'ignored'; reason: string } {
  return { kind: 'ignored', reason };
}

function invalid(message: string): { kind: 'invalid'; message: string } {
  return { kind: 'invalid', message };
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
