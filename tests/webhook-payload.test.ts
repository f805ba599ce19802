import { describe, expect, it } from 'vitest';
import { type IpAddress, parsePlainIpAddress } from '../src/ip-address.js';
import {
  GRANTING_ACTIONS,
  MAX_CLOCK_SKEW_MS,
  parseWebhookPayload,
  type WebhookPayload,
} from '../src/webhook-payload.js';

const NOW = Date.parse('2026-09-10T08:20:00.000Z');
const TTL = 30 * 86_400;
const EVENT_ID = '3f2a6c1e-8b7d-4e5f-9a0b-1c2d3e4f5a6b';

const MAPPING_HINT = 'give the transport the body mapping from docs/authentik.md';
const NO_CLIENT_IP = `no client_ip in the payload: ${MAPPING_HINT}`;
const NULL_CLIENT_IP = 'client_ip is null: Authentik recorded no client address for this event';
const DEFAULT_BODY = `Authentik's default body has no client IP: ${MAPPING_HINT}`;
const TEST_WITHOUT_MAPPING =
  'Authentik test notification: the transport works; logins also need the body mapping from docs/authentik.md';
const TEST_WITH_MAPPING = 'Authentik test notification: the transport and its body mapping work';
const NOT_OBJECT = 'body must be a JSON object';
const BAD_USER = 'username must be a string of at most 256 characters';
const BAD_EVENT_ID = 'event_id must be a string of 1 to 128 printable ASCII characters';

function parse(body: unknown, now = NOW, ttl = TTL): WebhookPayload {
  return parseWebhookPayload(body, now, ttl);
}

function address(text: string): IpAddress {
  const parsed = parsePlainIpAddress(text);
  if (parsed === undefined) throw new Error(`bad test address ${text}`);
  return parsed;
}

function nonClient(text: string): string {
  return `client_ip ${text} is not a client address: Authentik sees a proxy or nothing; check AUTHENTIK_LISTEN__TRUSTED_PROXY_CIDRS`;
}

// authentik-webhooks.md §4(b): what the recommended body mapping sends for a login.
const mappingLogin = {
  event_id: EVENT_ID,
  action: 'login',
  username: 'alice',
  user_pk: 7,
  client_ip: '203.0.113.45',
  created: '2026-09-10T08:15:42.123456Z',
  geo: { lat: 52.52, city: 'Berlin', long: 13.405, country: 'DE', continent: 'EU' },
  app: null,
  severity: 'notice',
};

// §4(a): Authentik's default body for a login, without a body mapping.
const defaultLoginBody = {
  body: "login: {'asn': {'asn': 64500, 'as_org': 'Example ISP', 'network': '203.0.113.0/24'}, 'geo': {'lat': 52.52, 'city': 'Berlin', 'long': 13.405, 'country': 'DE', 'continent': 'EU'}, 'auth_method': 'password', 'http_request': {'args': {'next': '/'}, 'path': '/api/v3/flows/executor/default-authentication-flow/', 'method': 'POST', 'request_id': '5b0c2f0e9a4d4d7f8a1e3c6b2d9f0a11', 'user_agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'}, 'auth_method_args': {'known_device': False}}",
  severity: 'notice',
  user_email: 'alice@example.com',
  user_username: 'alice',
  event_user_email: 'alice@example.com',
  event_user_username: 'alice',
};

// §4(c): the Test button's default body.
const defaultTestBody = {
  body: 'Test Notification from transport receiver-webhook',
  severity: 'notice',
  user_email: 'admin@example.com',
  user_username: 'akadmin',
};

// §4(c): the Test button through the body mapping.
const mappingTest = {
  event_id: EVENT_ID,
  action: 'custom_notification_test',
  username: null,
  user_pk: null,
  client_ip: null,
  created: '2026-09-10T08:15:42.123456Z',
  geo: null,
  app: null,
  severity: 'notice',
};

describe('parseWebhookPayload with the recommended body mapping', () => {
  it('reads a login', () => {
    expect(parse(mappingLogin)).toEqual({
      kind: 'login',
      address: address('203.0.113.45'),
      action: 'login',
      loginAt: Date.parse('2026-09-10T08:15:42.123Z'),
      user: 'alice',
      eventId: EVENT_ID,
    });
  });

  it('reads an authorize_application event as a login', () => {
    const body = { ...mappingLogin, action: 'authorize_application', app: 'Grafana' };

    expect(parse(body)).toMatchObject({ kind: 'login', action: 'authorize_application' });
  });

  it('grants for login and authorize_application only', () => {
    expect(GRANTING_ACTIONS).toEqual(['login', 'authorize_application']);
  });

  it('reads an event id written as hex without dashes', () => {
    const body = { ...mappingLogin, event_id: '3f2a6c1e8b7d4e5f9a0b1c2d3e4f5a6b' };

    expect(parse(body)).toMatchObject({ eventId: '3f2a6c1e8b7d4e5f9a0b1c2d3e4f5a6b' });
  });

  it.each([
    ['2001:DB8:1:2::10', address('2001:db8:1:2::10')],
    ['::ffff:203.0.113.45', address('203.0.113.45')],
    [' 203.0.113.45 ', address('203.0.113.45')],
  ])('reads client_ip %j in canonical form', (clientIp, expected) => {
    expect(parse({ ...mappingLogin, client_ip: clientIp })).toMatchObject({ address: expected });
  });

  it('ignores the Test button sent through the mapping', () => {
    expect(parse(mappingTest)).toEqual({ kind: 'ignored', reason: TEST_WITH_MAPPING });
  });

  it('ignores the Test button of versions that name the action notification_test', () => {
    const body = { ...mappingTest, action: 'notification_test' };

    expect(parse(body)).toEqual({ kind: 'ignored', reason: TEST_WITH_MAPPING });
  });

  it.each(['logout', 'login_failed', 'model_updated', 'password_set', 'Login'])(
    'ignores the action %j',
    (action) => {
      expect(parse({ ...mappingLogin, action })).toEqual({
        kind: 'ignored',
        reason: `action "${action}" grants nothing (only login and authorize_application do): check the rule's policies`,
      });
    },
  );

  it('truncates a long action in the reason', () => {
    const action = 'a'.repeat(100);

    expect(parse({ ...mappingLogin, action })).toEqual({
      kind: 'ignored',
      reason: `action "${'a'.repeat(64)}…" grants nothing (only login and authorize_application do): check the rule's policies`,
    });
  });

  it.each([[42], [null], [true], [['login']], [{ name: 'login' }]])(
    'refuses the action %j',
    (action) => {
      expect(parse({ ...mappingLogin, action })).toEqual({
        kind: 'invalid',
        message: 'action must be a string',
      });
    },
  );
});

describe("parseWebhookPayload with the old recipe's body", () => {
  it.each([
    ['ip', { ip: '203.0.113.45' }],
    ['client_ip', { client_ip: '203.0.113.45' }],
  ])('reads a top-level %s as a login now', (_name, body) => {
    expect(parse(body)).toEqual({
      kind: 'login',
      address: address('203.0.113.45'),
      action: 'login',
      loginAt: NOW,
    });
  });

  it('prefers client_ip to ip', () => {
    const body = { client_ip: '203.0.113.45', ip: '198.51.100.7' };

    expect(parse(body)).toMatchObject({ address: address('203.0.113.45') });
  });

  it('reads the user the old recipe sent', () => {
    expect(parse({ ip: '203.0.113.45', user: 'alice' })).toMatchObject({ user: 'alice' });
  });
});

describe("parseWebhookPayload with Authentik's default body", () => {
  it('ignores a login, saying the body mapping is missing', () => {
    expect(parse(defaultLoginBody)).toEqual({ kind: 'ignored', reason: DEFAULT_BODY });
  });

  it('ignores the Test button, saying the transport works', () => {
    expect(parse(defaultTestBody)).toEqual({ kind: 'ignored', reason: TEST_WITHOUT_MAPPING });
  });

  it('ignores the mapping\'s fallback for an event-less Test button, {"kind":"test"}', () => {
    expect(parse({ kind: 'test' })).toEqual({ kind: 'ignored', reason: TEST_WITHOUT_MAPPING });
    expect(parse({ kind: 'test', body: 'Test Notification from transport x' })).toEqual({
      kind: 'ignored',
      reason: TEST_WITHOUT_MAPPING,
    });
  });

  it('ignores an empty object, saying client_ip is missing', () => {
    expect(parse({})).toEqual({ kind: 'ignored', reason: NO_CLIENT_IP });
  });

  it('reads a default-shaped body that also carries client_ip', () => {
    const body = { ...defaultLoginBody, client_ip: '203.0.113.45' };

    expect(parse(body)).toEqual({
      kind: 'login',
      address: address('203.0.113.45'),
      action: 'login',
      loginAt: NOW,
      user: 'alice',
    });
  });
});

describe('parseWebhookPayload and the client IP', () => {
  it('ignores a login without client_ip', () => {
    const { client_ip: _omitted, ...body } = mappingLogin;

    expect(parse(body)).toEqual({ kind: 'ignored', reason: NO_CLIENT_IP });
  });

  it('ignores a login whose client_ip is null', () => {
    expect(parse({ ...mappingLogin, client_ip: null })).toEqual({
      kind: 'ignored',
      reason: NULL_CLIENT_IP,
    });
  });

  it('ignores an old-recipe body whose ip is null, naming that field', () => {
    expect(parse({ ip: null })).toEqual({
      kind: 'ignored',
      reason: 'ip is null: Authentik recorded no client address for this event',
    });
  });

  it.each([
    ['255.255.255.255', '255.255.255.255'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['224.0.0.1', '224.0.0.1'],
    ['FF02::1', 'ff02::1'],
  ])('ignores client_ip %j, which is no client', (clientIp, shown) => {
    expect(parse({ ...mappingLogin, client_ip: clientIp })).toEqual({
      kind: 'ignored',
      reason: nonClient(shown),
    });
  });

  // A browser on the proxy's own host signs in from loopback; isNonClientAddress allows it.
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
  ])('reads the loopback client_ip %j as a client', (clientIp, text) => {
    expect(parse({ ...mappingLogin, client_ip: clientIp })).toMatchObject({
      kind: 'login',
      address: address(text),
    });
  });

  it.each([[42], [true], [['203.0.113.45']], [{ address: '203.0.113.45' }]])(
    'refuses the non-string client_ip %j',
    (clientIp) => {
      expect(parse({ ...mappingLogin, client_ip: clientIp })).toEqual({
        kind: 'invalid',
        message: 'client_ip must be a string',
      });
    },
  );

  it.each([
    'not-an-ip',
    '',
    '203.0.113.45:443',
    '[2001:db8::1]',
    'fe80::1%eth0',
    '010.0.0.1',
    '203.0.113',
    '3405803783',
    '203.0.113.0/24',
    '203.0.113.45, 198.51.100.7',
  ])('refuses the unparseable client_ip %j', (clientIp) => {
    expect(parse({ ...mappingLogin, client_ip: clientIp })).toEqual({
      kind: 'invalid',
      message: `client_ip "${clientIp}" is not an IP address`,
    });
  });

  it('truncates a long client_ip in the message', () => {
    expect(parse({ ...mappingLogin, client_ip: 'x'.repeat(100) })).toEqual({
      kind: 'invalid',
      message: `client_ip "${'x'.repeat(64)}…" is not an IP address`,
    });
  });
});

describe('parseWebhookPayload and non-object bodies', () => {
  it.each([
    ['an array', []],
    ['an array of a login', [mappingLogin]],
    ['a number', 42],
    ['a string', '{"client_ip":"203.0.113.45"}'],
    ['null', null],
    ['true', true],
    ['undefined', undefined],
  ])('refuses %s', (_name, body) => {
    expect(parse(body)).toEqual({ kind: 'invalid', message: NOT_OBJECT });
  });
});

describe('parseWebhookPayload and the login time', () => {
  const loginAt = (created: unknown, now = NOW): unknown => {
    const payload = parse({ ...mappingLogin, created }, now);
    return payload.kind === 'login' ? payload.loginAt : payload;
  };

  it.each([
    ['with microseconds', '2026-09-10T08:15:42.123456Z', '2026-09-10T08:15:42.123Z'],
    ['with nanoseconds', '2026-09-10T08:15:42.123456789Z', '2026-09-10T08:15:42.123Z'],
    ['with one decimal', '2026-09-10T08:15:42.5Z', '2026-09-10T08:15:42.500Z'],
    ['without a fraction', '2026-09-10T08:15:42Z', '2026-09-10T08:15:42.000Z'],
    ['with a positive offset', '2026-09-10T10:15:42.123456+02:00', '2026-09-10T08:15:42.123Z'],
    ['with a negative offset', '2026-09-10T03:15:42-05:00', '2026-09-10T08:15:42.000Z'],
    ['with a zero offset', '2026-09-10T08:15:42+00:00', '2026-09-10T08:15:42.000Z'],
    ['29 days ago', '2026-08-12T08:20:00Z', '2026-08-12T08:20:00.000Z'],
  ])('counts from created %s', (_name, created, expected) => {
    expect(loginAt(created)).toBe(Date.parse(expected));
  });

  it.each([
    ['one second ahead', 1000],
    ['a minute ahead', 60_000],
    ['exactly the allowed skew ahead', MAX_CLOCK_SKEW_MS],
  ])('never counts later than now when created is slightly in the future: %s', (_name, ahead) => {
    expect(loginAt(new Date(NOW + ahead).toISOString())).toBe(NOW);
  });

  it.each([
    ['just beyond the skew', MAX_CLOCK_SKEW_MS + 1],
    ['an hour', 3_600_000],
    ['a year', 365 * 86_400_000],
  ])('counts from now when created is in the future by %s', (_name, ahead) => {
    expect(loginAt(new Date(NOW + ahead).toISOString())).toBe(NOW);
  });

  it('allows five minutes of clock skew', () => {
    expect(MAX_CLOCK_SKEW_MS).toBe(300_000);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['a number', 1_789_028_000_000],
    ['a word', 'yesterday'],
    ['empty', ''],
    ['without a zone', '2026-09-10T08:15:42'],
    ['with a space for T', '2026-09-10 08:15:42Z'],
    ['a date only', '2026-09-10'],
    ['a lower-case z', '2026-09-10T08:15:42z'],
    ['an impossible month', '2026-13-10T08:15:42Z'],
    ['an impossible hour', '2026-09-10T25:15:42Z'],
    ['an RFC 2822 date', 'Thu, 10 Sep 2026 08:15:42 GMT'],
    ['a compact offset', '2026-09-10T08:15:42+0200'],
  ])('counts from now when created is %s', (_name, created) => {
    expect(loginAt(created)).toBe(NOW);
  });

  it('ignores an event older than GRANT_TTL', () => {
    expect(parse({ ...mappingLogin, created: '2026-08-11T08:19:59Z' })).toEqual({
      kind: 'ignored',
      reason: 'the event was created at 2026-08-11T08:19:59.000Z, longer ago than GRANT_TTL',
    });
  });

  it('ignores an event exactly GRANT_TTL old, whose grant would end now', () => {
    expect(parse({ ...mappingLogin, created: '2026-08-11T08:20:00Z' })).toEqual({
      kind: 'ignored',
      reason: 'the event was created at 2026-08-11T08:20:00.000Z, longer ago than GRANT_TTL',
    });
  });

  it('reads an event one millisecond younger than GRANT_TTL', () => {
    expect(loginAt('2026-08-11T08:20:00.001Z')).toBe(Date.parse('2026-08-11T08:20:00.001Z'));
  });

  it('measures age against the GRANT_TTL it is given', () => {
    const body = { ...mappingLogin, created: '2026-09-10T06:20:00Z' };

    expect(parse(body, NOW, 3600)).toEqual({
      kind: 'ignored',
      reason: 'the event was created at 2026-09-10T06:20:00.000Z, longer ago than GRANT_TTL',
    });
    expect(parse(body, NOW, 7201)).toMatchObject({ kind: 'login' });
  });
});

describe('parseWebhookPayload and the username', () => {
  const base = { client_ip: '203.0.113.45' };

  it.each([
    ['username', { username: 'alice' }, 'alice'],
    ['a user string', { user: 'alice' }, 'alice'],
    ['user.username', { user: { username: 'alice', pk: 7, email: 'a@example.com' } }, 'alice'],
    ['event_user_username', { event_user_username: 'alice' }, 'alice'],
    ['username first', { username: 'alice', user: 'bob', event_user_username: 'carol' }, 'alice'],
    ['user before event_user_username', { user: 'bob', event_user_username: 'carol' }, 'bob'],
    ['user when username is null', { username: null, user: 'bob' }, 'bob'],
    [
      'the default body when user.username is null',
      { user: { username: null }, event_user_username: 'carol' },
      'carol',
    ],
    ['a name of 256 characters', { username: 'a'.repeat(256) }, 'a'.repeat(256)],
    ['a name with spaces and accents', { username: 'Zoë Ångström' }, 'Zoë Ångström'],
  ])('reads the user from %s', (_name, fields, user) => {
    expect(parse({ ...base, ...fields })).toMatchObject({ kind: 'login', user });
  });

  it.each([
    ['no user field', {}],
    ['a null username', { username: null }],
    ['an empty username', { username: '' }],
  ])('records no user for %s', (_name, fields) => {
    const payload = parse({ ...base, ...fields });

    expect(payload).toEqual({
      kind: 'login',
      address: address('203.0.113.45'),
      action: 'login',
      loginAt: NOW,
    });
  });

  it.each([
    ['257 characters', { username: 'a'.repeat(257) }],
    ['a long user.username', { user: { username: 'a'.repeat(257) } }],
    ['a number', { username: 7 }],
    ['an array', { username: ['alice'] }],
    ['a number in user.username', { user: { username: 7 } }],
  ])('refuses a username of %s', (_name, fields) => {
    expect(parse({ ...base, ...fields })).toEqual({ kind: 'invalid', message: BAD_USER });
  });
});

describe('parseWebhookPayload and the event id', () => {
  const base = { client_ip: '203.0.113.45' };

  it.each([
    ['a dashed UUID', EVENT_ID, EVENT_ID],
    ['a number', 12_345, '12345'],
    ['zero', 0, '0'],
    ['128 characters', 'e'.repeat(128), 'e'.repeat(128)],
  ])('reads %s', (_name, eventId, expected) => {
    expect(parse({ ...base, event_id: eventId })).toMatchObject({ eventId: expected });
  });

  it.each([
    ['null', null],
    ['empty', ''],
  ])('records no event id when it is %s', (_name, eventId) => {
    expect(parse({ ...base, event_id: eventId })).not.toHaveProperty('eventId');
  });

  it.each([
    ['129 characters', 'e'.repeat(129)],
    ['a space', 'event 1'],
    ['a non-ASCII character', 'évent'],
    ['a fraction', 1.5],
    ['an unsafe integer', 2 ** 53],
    ['a boolean', true],
    ['an object', { pk: 1 }],
  ])('refuses an event id with %s', (_name, eventId) => {
    expect(parse({ ...base, event_id: eventId })).toEqual({
      kind: 'invalid',
      message: BAD_EVENT_ID,
    });
  });
});

describe('parseWebhookPayload and inherited keys', () => {
  it.each([
    [
      '__proto__ holding a login',
      '{"__proto__":{"client_ip":"203.0.113.45","action":"login"}}',
      {},
    ],
    [
      '__proto__ beside a login',
      '{"client_ip":"203.0.113.45","__proto__":{"action":"logout","username":"mallory"}}',
      { client_ip: '203.0.113.45' },
    ],
    [
      'constructor beside a login',
      '{"client_ip":"203.0.113.45","constructor":{"prototype":{"action":"logout"}}}',
      { client_ip: '203.0.113.45' },
    ],
    [
      '__proto__ beside the mapping',
      `{"__proto__":{"client_ip":"198.51.100.7"},${JSON.stringify(mappingLogin).slice(1)}`,
      mappingLogin,
    ],
  ])('reads a body with %s as if the key were absent', (_name, json, equivalent) => {
    expect(parse(JSON.parse(json))).toEqual(parse(equivalent));
  });

  it('reads only own keys, never ones inherited from Object.prototype', () => {
    const prototype = Object.prototype as Record<string, unknown>;
    prototype.client_ip = '203.0.113.45';
    prototype.username = 'mallory';
    try {
      expect(parse({})).toEqual({ kind: 'ignored', reason: NO_CLIENT_IP });
      expect(parse({ ip: '198.51.100.7' })).toEqual({
        kind: 'login',
        address: address('198.51.100.7'),
        action: 'login',
        loginAt: NOW,
      });
    } finally {
      delete prototype.client_ip;
      delete prototype.username;
    }
  });
});
