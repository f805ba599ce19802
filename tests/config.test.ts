import { describe, expect, it } from 'vitest';
import { formatCidr } from '../src/cidr.js';
import {
  type Config,
  describeConfig,
  LOG_LEVELS,
  parseConfig,
  redactUrl,
  SETTINGS,
} from '../src/config.js';
import { ConfigError } from '../src/errors.js';

type Env = Record<string, string | undefined>;

const SECRET = 'correct-horse-battery-staple-42';
const REDIS_EXPECTED =
  'expected redis://[user:password@]host[:port][/db] or rediss://… for TLS, db being a number';
const CIDR_EXPECTED =
  'expected an IPv4 or IPv6 address or CIDR such as 192.168.1.0/24 or 2001:db8::/48';

/** The problems parseConfig reports for `env`; fails the test if it does not throw. */
function problemsOf(env: Env): readonly string[] {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

/** What an operator could read for `env`: the error message, or the start-up description. */
function visibleText(env: Env): string {
  try {
    return JSON.stringify(describeConfig(parseConfig(env)));
  } catch (error) {
    return String(error);
  }
}

function cidrTexts(config: Config, key: 'staticCidrs' | 'trustedProxies'): string[] {
  return config[key].map(formatCidr);
}

describe('parseConfig defaults', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = parseConfig({});

    expect({
      ...config,
      staticCidrs: cidrTexts(config, 'staticCidrs'),
      trustedProxies: cidrTexts(config, 'trustedProxies'),
    }).toEqual({
      port: 8080,
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'ipgate:',
      webhookSecret: undefined,
      staticCidrs: [],
      grantTtlSeconds: 30 * 86_400,
      trustedProxies: [
        '127.0.0.0/8',
        '::1/128',
        '10.0.0.0/8',
        '172.16.0.0/12',
        '192.168.0.0/16',
        'fc00::/7',
      ],
      ipv4Prefix: 32,
      ipv6Prefix: 64,
      logLevel: 'info',
      cacheSize: 100_000,
      cacheTtlSeconds: 60,
      keyspaceEvents: true,
      adminToken: undefined,
      metricsToken: undefined,
      denyLoginUrl: undefined,
      logDecisions: 'deny',
    });
  });

  it('ignores variables it does not know', () => {
    expect(parseConfig({ HOME: '/root', IPGATE_PORT: 'x' })).toEqual(parseConfig({}));
  });

  it.each([...Object.keys(SETTINGS), 'STATIC_IPS', 'TTL_DAYS'])(
    'treats an empty or blank %s as unset',
    (name) => {
      expect(parseConfig({ [name]: '' })).toEqual(parseConfig({}));
      expect(parseConfig({ [name]: ' \t\n' })).toEqual(parseConfig({}));
    },
  );

  it('returns a frozen object', () => {
    const config = parseConfig({});

    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(8080);
  });
});

describe('parseConfig accepted forms', () => {
  it.each([
    ['1', 1],
    ['80', 80],
    ['8080', 8080],
    [' 9000 ', 9000],
    ['65535', 65_535],
  ])('reads PORT=%j as %i', (text, port) => {
    expect(parseConfig({ PORT: text }).port).toBe(port);
  });

  it.each([
    'redis://localhost',
    'redis://localhost:6380',
    'redis://redis:6379/0',
    'redis://redis:6379/15',
    'redis://redis/',
    'redis://:s3cret@redis:6379',
    'redis://ipgate:s3cret@redis:6379/2',
    'rediss://cache.example.com:6380',
    'redis://[::1]:6379',
  ])('accepts REDIS_URL=%j as written', (url) => {
    expect(parseConfig({ REDIS_URL: url }).redisUrl).toBe(url);
  });

  it.each(['ipgate:', 'a', 'app:{ipgate}:', 'x'.repeat(64), '!~'])(
    'accepts REDIS_PREFIX=%j',
    (prefix) => {
      expect(parseConfig({ REDIS_PREFIX: prefix }).redisPrefix).toBe(prefix);
    },
  );

  it.each([
    ['16 characters', 'a'.repeat(16)],
    ['1024 characters', 'b'.repeat(1024)],
    ['printable punctuation', '!#$%&()*+,-./:;<=>?@[]^_`{|}~0123'],
    ['a hex secret from openssl rand -hex 32', 'ab'.repeat(32)],
  ])('accepts a WEBHOOK_SECRET of %s', (_name, secret) => {
    expect(parseConfig({ WEBHOOK_SECRET: secret }).webhookSecret).toBe(secret);
  });

  it('trims the WEBHOOK_SECRET as it trims every value', () => {
    expect(parseConfig({ WEBHOOK_SECRET: `  ${SECRET}\n` }).webhookSecret).toBe(SECRET);
  });

  it.each([
    ['one address', '203.0.113.7', ['203.0.113.7/32']],
    ['one IPv6 address', '2001:db8::1', ['2001:db8::1/128']],
    ['commas', '203.0.113.0/24,2001:db8::/32', ['203.0.113.0/24', '2001:db8::/32']],
    ['comma and space', '203.0.113.0/24, 198.51.100.7', ['203.0.113.0/24', '198.51.100.7/32']],
    ['spaces only', '203.0.113.0/24 198.51.100.7', ['203.0.113.0/24', '198.51.100.7/32']],
    [
      'newlines and tabs',
      '203.0.113.0/24\n\t198.51.100.7\n',
      ['203.0.113.0/24', '198.51.100.7/32'],
    ],
    ['stray commas', ',203.0.113.0/24,,198.51.100.7,', ['203.0.113.0/24', '198.51.100.7/32']],
    ['host bits set', '203.0.113.7/24', ['203.0.113.0/24']],
    ['upper-case IPv6', '2001:DB8:ABCD::/48', ['2001:db8:abcd::/48']],
    ['a v4-mapped network', '::ffff:203.0.113.0/120', ['203.0.113.0/24']],
  ])('reads STATIC_CIDRS with %s', (_name, text, expected) => {
    expect(cidrTexts(parseConfig({ STATIC_CIDRS: text }), 'staticCidrs')).toEqual(expected);
  });

  it('reads the old name STATIC_IPS the same way', () => {
    const config = parseConfig({ STATIC_IPS: '203.0.113.7, 2001:db8::/32' });

    expect(cidrTexts(config, 'staticCidrs')).toEqual(['203.0.113.7/32', '2001:db8::/32']);
  });

  it('replaces the default TRUSTED_PROXIES rather than adding to them', () => {
    const config = parseConfig({ TRUSTED_PROXIES: '172.18.0.0/16 fd00::/8' });

    expect(cidrTexts(config, 'trustedProxies')).toEqual(['172.18.0.0/16', 'fd00::/8']);
  });

  it.each([
    ['30d', 2_592_000],
    ['1d', 86_400],
    ['12h', 43_200],
    ['90m', 5400],
    ['3600s', 3600],
    ['3600', 3600],
    ['1', 1],
  ])('reads GRANT_TTL=%j as %i seconds', (text, seconds) => {
    expect(parseConfig({ GRANT_TTL: text }).grantTtlSeconds).toBe(seconds);
  });

  it.each([
    ['30', 2_592_000],
    ['1', 86_400],
    ['3650', 3650 * 86_400],
  ])('reads the old TTL_DAYS=%j as days: %i seconds', (text, seconds) => {
    expect(parseConfig({ TTL_DAYS: text }).grantTtlSeconds).toBe(seconds);
  });

  it.each([
    ['IPV4_PREFIX', '16', 'ipv4Prefix', 16],
    ['IPV4_PREFIX', '24', 'ipv4Prefix', 24],
    ['IPV4_PREFIX', '32', 'ipv4Prefix', 32],
    ['IPV6_PREFIX', '32', 'ipv6Prefix', 32],
    ['IPV6_PREFIX', '56', 'ipv6Prefix', 56],
    ['IPV6_PREFIX', '128', 'ipv6Prefix', 128],
  ] as const)('reads %s=%j', (name, text, key, value) => {
    expect(parseConfig({ [name]: text })[key]).toBe(value);
  });

  it.each(LOG_LEVELS)('accepts LOG_LEVEL=%j', (level) => {
    expect(parseConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
  });
});

describe('parseConfig error messages', () => {
  it.each([
    ['abc'],
    ['0'],
    ['65536'],
    ['-1'],
    ['+80'],
    ['80.0'],
    ['1e3'],
    ['0x50'],
    ['8080 9090'],
    ['1234567'],
  ])('refuses PORT=%j', (text) => {
    expect(problemsOf({ PORT: text })).toEqual([
      `PORT="${text}" is invalid: expected an integer from 1 to 65535`,
    ]);
  });

  it('quotes the trimmed value', () => {
    expect(problemsOf({ PORT: '  abc  ' })).toEqual([
      'PORT="abc" is invalid: expected an integer from 1 to 65535',
    ]);
  });

  it.each([
    ['IPV4_PREFIX', '15', 'an integer from 16 to 32'],
    ['IPV4_PREFIX', '33', 'an integer from 16 to 32'],
    ['IPV4_PREFIX', '/24', 'an integer from 16 to 32'],
    ['IPV6_PREFIX', '31', 'an integer from 32 to 128'],
    ['IPV6_PREFIX', '129', 'an integer from 32 to 128'],
    ['IPV6_PREFIX', '64bits', 'an integer from 32 to 128'],
  ])('refuses %s=%j', (name, text, expected) => {
    expect(problemsOf({ [name]: text })).toEqual([
      `${name}="${text}" is invalid: expected ${expected}`,
    ]);
  });

  it.each([
    ['http://redis:6379', 'http://redis:6379'],
    ['redis://', 'redis://'],
    ['localhost:6379', 'localhost:6379'],
    ['redis:6379', 'redis:6379'],
    ['redis://redis:6379/db', 'redis://redis:6379/db'],
    ['redis://redis:6379/123', 'redis://redis:6379/123'],
    ['redis://redis:6379/1/2', 'redis://redis:6379/1/2'],
    ['redis://redis:6379?db=1', 'redis://redis:6379?db=1'],
    ['redis://redis:99999', 'redis://redis:99999'],
    ['not a url', 'not a url'],
  ])('refuses REDIS_URL=%j', (text, shown) => {
    expect(problemsOf({ REDIS_URL: text })).toEqual([
      `REDIS_URL="${shown}" is invalid: ${REDIS_EXPECTED}`,
    ]);
  });

  it.each([['x'.repeat(65)], ['a b'], ['ipgate:é']])('refuses REDIS_PREFIX=%j', (text) => {
    expect(problemsOf({ REDIS_PREFIX: text })).toEqual([
      `REDIS_PREFIX="${text}" is invalid: expected 1 to 64 printable ASCII characters without spaces, such as ipgate:`,
    ]);
  });

  it.each([
    ['abc', 3],
    ['fifteen-chars!!', 15],
  ])('refuses the short WEBHOOK_SECRET %j without showing it', (secret, length) => {
    expect(problemsOf({ WEBHOOK_SECRET: secret })).toEqual([
      `WEBHOOK_SECRET is too short (${length} characters): expected at least 16; generate one with "openssl rand -hex 32"`,
    ]);
  });

  it.each([
    ['an inner space', 'correct horse battery staple'],
    ['a non-ASCII character', 'correct-horse-battery-stäple'],
    ['a control character', 'correct-horse\u0007battery-staple'],
    ['more than 1024 characters', 'c'.repeat(1025)],
  ])('refuses a WEBHOOK_SECRET with %s without showing it', (_name, secret) => {
    expect(problemsOf({ WEBHOOK_SECRET: secret })).toEqual([
      'WEBHOOK_SECRET is invalid: expected at most 1024 printable ASCII characters without spaces, as it travels in an HTTP header',
    ]);
  });

  it.each([
    ['STATIC_CIDRS', 'not-an-ip', 'not-an-ip'],
    ['STATIC_CIDRS', '203.0.113.0/24, 203.0.113.0/33', '203.0.113.0/33'],
    ['STATIC_CIDRS', '2001:db8::/129', '2001:db8::/129'],
    ['STATIC_CIDRS', '010.0.0.1', '010.0.0.1'],
    ['STATIC_CIDRS', '10.0.0.0/024', '10.0.0.0/024'],
    ['STATIC_CIDRS', 'fe80::1%eth0', 'fe80::1%eth0'],
    ['STATIC_CIDRS', '203.0.113.0/24;198.51.100.0/24', '203.0.113.0/24;198.51.100.0/24'],
    ['TRUSTED_PROXIES', '10.0.0.0/8, 172.16.0.0/', '172.16.0.0/'],
  ])('names the invalid %s entry in %j', (name, text, entry) => {
    expect(problemsOf({ [name]: text })).toEqual([
      `${name} entry "${entry}" is invalid: ${CIDR_EXPECTED}`,
    ]);
  });

  it('names the old variable STATIC_CIDRS when STATIC_IPS holds a bad entry', () => {
    expect(problemsOf({ STATIC_IPS: '203.0.113.7, nope' })).toEqual([
      `STATIC_CIDRS entry "nope" is invalid: ${CIDR_EXPECTED}`,
    ]);
  });

  it('names every invalid entry of one variable', () => {
    expect(problemsOf({ STATIC_CIDRS: 'a, 203.0.113.7, b' })).toEqual([
      `STATIC_CIDRS entry "a" is invalid: ${CIDR_EXPECTED}`,
      `STATIC_CIDRS entry "b" is invalid: ${CIDR_EXPECTED}`,
    ]);
  });

  it.each([
    ['0'],
    ['0d'],
    ['030d'],
    ['-1'],
    ['1.5h'],
    ['30 d'],
    ['30D'],
    ['1w'],
    ['d'],
    ['12345678901'],
  ])('refuses GRANT_TTL=%j', (text) => {
    expect(problemsOf({ GRANT_TTL: text })).toEqual([
      `GRANT_TTL="${text}" is invalid: expected a duration from 1s to 3650d, such as 30d, 12h, 90m, 3600s, or plain seconds`,
    ]);
  });

  // A grant ends at login time + GRANT_TTL; past year 275760 a JavaScript Date is invalid,
  // so the webhook could not write the grant's expiresAt. Such a TTL must stop the start.
  it.each([['9999999999d'], ['9999999999h']])(
    'refuses GRANT_TTL=%j, which ends beyond any date',
    (text) => {
      expect(problemsOf({ GRANT_TTL: text })).toEqual([
        expect.stringMatching(new RegExp(`^GRANT_TTL="${text}" is invalid: expected `)),
      ]);
    },
  );

  it.each([['0'], ['30d'], ['1.5'], ['-3'], ['3651'], ['100000']])(
    'refuses TTL_DAYS=%j',
    (text) => {
      expect(problemsOf({ TTL_DAYS: text })).toEqual([
        `TTL_DAYS="${text}" is invalid: expected a whole number of days from 1 to 3650, or GRANT_TTL`,
      ]);
    },
  );

  it.each([['INFO'], ['warning'], ['verbose']])('refuses LOG_LEVEL=%j', (text) => {
    expect(problemsOf({ LOG_LEVEL: text })).toEqual([
      `LOG_LEVEL="${text}" is invalid: expected one of fatal, error, warn, info, debug, trace, silent`,
    ]);
  });

  it('refuses STATIC_CIDRS and STATIC_IPS together', () => {
    expect(problemsOf({ STATIC_CIDRS: '203.0.113.0/24', STATIC_IPS: '203.0.113.7' })).toEqual([
      'STATIC_CIDRS and STATIC_IPS are both set: STATIC_IPS is the old name of STATIC_CIDRS; keep one',
    ]);
  });

  it('refuses GRANT_TTL and TTL_DAYS together', () => {
    expect(problemsOf({ GRANT_TTL: '12h', TTL_DAYS: '30' })).toEqual([
      'GRANT_TTL and TTL_DAYS are both set: TTL_DAYS is the old name of GRANT_TTL; keep one',
    ]);
  });

  it('accepts an old name beside an empty new one', () => {
    expect(parseConfig({ GRANT_TTL: '', TTL_DAYS: '2' }).grantTtlSeconds).toBe(172_800);
    expect(cidrTexts(parseConfig({ STATIC_CIDRS: ' ', STATIC_IPS: '::1' }), 'staticCidrs')).toEqual(
      ['::1/128'],
    );
  });

  it('reports every invalid variable at once, one line each, in a ConfigError', () => {
    const env = {
      PORT: 'abc',
      REDIS_URL: 'http://redis',
      REDIS_PREFIX: 'a b',
      WEBHOOK_SECRET: 'short',
      STATIC_CIDRS: 'x',
      STATIC_IPS: '203.0.113.7',
      GRANT_TTL: '0',
      TTL_DAYS: '3',
      TRUSTED_PROXIES: 'y',
      IPV4_PREFIX: '8',
      IPV6_PREFIX: '200',
      LOG_LEVEL: 'loud',
    };
    const problems = [
      'PORT="abc" is invalid: expected an integer from 1 to 65535',
      `REDIS_URL="http://redis" is invalid: ${REDIS_EXPECTED}`,
      'REDIS_PREFIX="a b" is invalid: expected 1 to 64 printable ASCII characters without spaces, such as ipgate:',
      'WEBHOOK_SECRET is too short (5 characters): expected at least 16; generate one with "openssl rand -hex 32"',
      'STATIC_CIDRS and STATIC_IPS are both set: STATIC_IPS is the old name of STATIC_CIDRS; keep one',
      `STATIC_CIDRS entry "x" is invalid: ${CIDR_EXPECTED}`,
      'GRANT_TTL and TTL_DAYS are both set: TTL_DAYS is the old name of GRANT_TTL; keep one',
      'GRANT_TTL="0" is invalid: expected a duration from 1s to 3650d, such as 30d, 12h, 90m, 3600s, or plain seconds',
      `TRUSTED_PROXIES entry "y" is invalid: ${CIDR_EXPECTED}`,
      'IPV4_PREFIX="8" is invalid: expected an integer from 16 to 32',
      'IPV6_PREFIX="200" is invalid: expected an integer from 32 to 128',
      'LOG_LEVEL="loud" is invalid: expected one of fatal, error, warn, info, debug, trace, silent',
    ];

    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(problemsOf(env)).toEqual(problems);
    expect(() => parseConfig(env)).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        code: 'ERR_CONFIG',
        message: problems.join('\n'),
      }),
    );
  });
});

describe('secrets in messages and descriptions', () => {
  it.each([
    ['too short', 'hunter2hunter2'],
    ['with a space', 'hunter2 hunter2 hunter2'],
    ['too long', `hunter2${'x'.repeat(1100)}`],
  ])('never shows a WEBHOOK_SECRET that is %s', (_name, secret) => {
    const problems = problemsOf({ WEBHOOK_SECRET: secret, PORT: 'abc' });

    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('never shows a valid WEBHOOK_SECRET when another variable is invalid', () => {
    expect(problemsOf({ WEBHOOK_SECRET: SECRET, PORT: 'abc' }).join('\n')).not.toContain(SECRET);
  });

  it.each([
    ['in a URL of the wrong scheme', 'http://ipgate:hunter2@redis:6379', 'http://***@redis:6379'],
    ['in a URL with a bad db', 'redis://ipgate:hunter2@redis:6379/x', 'redis://***@redis:6379/x'],
    ['alone', 'redis://:hunter2@redis:6379?x', 'redis://***@redis:6379?x'],
    ['in an unparseable URL', 'redis://:hunter2@redis:99999', 'redis://***@redis:99999'],
  ])('redacts a REDIS_URL password %s', (_name, url, shown) => {
    expect(problemsOf({ REDIS_URL: url })).toEqual([
      `REDIS_URL="${shown}" is invalid: ${REDIS_EXPECTED}`,
    ]);
  });

  // Generated passwords hold `/`, `?` and `#`; unescaped, the URL parser ends the user info
  // early and reads the rest of the password as port, path, query or fragment.
  it.each([
    ['a slash', 'redis://default:12/hunter2@redis:6379'],
    ['a question mark', 'redis://default:12?hunter2@redis:6379'],
  ])('never shows a REDIS_URL password containing %s', (_name, url) => {
    expect(problemsOf({ REDIS_URL: url }).join('\n')).not.toContain('hunter2');
  });

  it('never shows or describes a REDIS_URL password containing a hash', () => {
    expect(visibleText({ REDIS_URL: 'redis://u:12#hunter2@redis' })).not.toContain('hunter2');
  });

  it('describes the settings without the secret or the Redis password', () => {
    const config = parseConfig({
      REDIS_URL: 'rediss://ipgate:hunter2@redis:6380/3',
      WEBHOOK_SECRET: SECRET,
      STATIC_CIDRS: '203.0.113.0/24 2001:db8::/32',
      TRUSTED_PROXIES: '172.18.0.0/16',
    });

    expect(describeConfig(config)).toEqual({
      port: 8080,
      redisUrl: 'rediss://***@redis:6380/3',
      redisPrefix: 'ipgate:',
      webhook: 'enabled',
      staticCidrs: 2,
      grantTtlSeconds: 2_592_000,
      trustedProxies: ['172.18.0.0/16'],
      ipv4Prefix: 32,
      ipv6Prefix: 64,
      logLevel: 'info',
      cacheSize: 100_000,
      cacheTtlSeconds: 60,
      keyspaceEvents: true,
      admin: 'disabled',
      metrics: 'open',
      denyLoginUrl: undefined,
      logDecisions: 'deny',
    });
    expect(JSON.stringify(describeConfig(config))).not.toContain('hunter2');
    expect(JSON.stringify(describeConfig(config))).not.toContain(SECRET);
  });

  it('describes a disabled webhook when WEBHOOK_SECRET is unset', () => {
    expect(describeConfig(parseConfig({})).webhook).toBe('disabled');
  });

  it.each([
    ['redis://:hunter2@redis:6379/2', 'redis://***@redis:6379/2'],
    ['redis://user:hunter2@redis', 'redis://***@redis'],
    ['rediss://user:p%40ss@redis', 'rediss://***@redis'],
    ['redis://user:p@ss/w?o#rd@redis', 'redis://***@redis'],
    ['redis://user@redis', 'redis://***@redis'],
    ['redis://redis:6379', 'redis://redis:6379'],
    ['::nonsense::', '::nonsense::'],
  ])('redactUrl(%j) is %j', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});

describe('parseConfig: decision cache settings', () => {
  it.each([
    [{ CACHE_SIZE: '0' }, { cacheSize: 0 }],
    [{ CACHE_SIZE: '500000' }, { cacheSize: 500_000 }],
    [{ CACHE_TTL: '5m' }, { cacheTtlSeconds: 300 }],
    [{ CACHE_TTL: '1' }, { cacheTtlSeconds: 1 }],
    [{ REDIS_KEYSPACE_EVENTS: 'off' }, { keyspaceEvents: false }],
  ])('reads %j', (env, expected) => {
    expect(parseConfig(env)).toMatchObject(expected);
  });

  it.each([
    ['CACHE_SIZE', '-1', 'an integer from 0 to 1000000'],
    ['CACHE_SIZE', '2000000', 'an integer from 0 to 1000000'],
    ['CACHE_TTL', '2h', 'a duration from 1s to 1h, such as 60s or 5m'],
    ['CACHE_TTL', '0s', 'a duration from 1s to 1h, such as 60s or 5m'],
    ['REDIS_KEYSPACE_EVENTS', 'on', 'auto or off'],
  ])('refuses %s=%j', (name, value, expected) => {
    expect(() => parseConfig({ [name]: value })).toThrow(
      `${name}="${value}" is invalid: expected ${expected}`,
    );
  });
});

describe('operator settings', () => {
  it.each(['ADMIN_TOKEN', 'METRICS_TOKEN'])('refuses a %s shorter than 16 characters', (name) => {
    expect(() => parseConfig({ [name]: 'short' })).toThrow(
      `${name} is too short (5 characters): expected at least 16; generate one with "openssl rand -hex 32"`,
    );
  });

  it('keeps the admin and metrics tokens out of the description', () => {
    const config = parseConfig({ ADMIN_TOKEN: SECRET, METRICS_TOKEN: `${SECRET}-metrics` });
    expect(config.adminToken).toBe(SECRET);
    expect(describeConfig(config)).toMatchObject({ admin: 'enabled', metrics: 'token' });
    expect(JSON.stringify(describeConfig(config))).not.toContain(SECRET);
  });

  it('reads DENY_LOGIN_URL as an http(s) URL', () => {
    const config = parseConfig({ DENY_LOGIN_URL: 'https://auth.example.com/if/flow/login/' });
    expect(config.denyLoginUrl?.href).toBe('https://auth.example.com/if/flow/login/');
  });

  it.each(['javascript:alert(1)', '/relative', 'https://user:pw@auth.example.com/', 'ftp://x/'])(
    'refuses DENY_LOGIN_URL=%s',
    (value) => {
      expect(() => parseConfig({ DENY_LOGIN_URL: value })).toThrow(
        `DENY_LOGIN_URL="${value}" is invalid: expected an absolute http:// or https:// URL without credentials or #fragment, such as https://auth.example.com/`,
      );
    },
  );

  it.each(['none', 'deny', 'all'] as const)('accepts LOG_DECISIONS=%s', (value) => {
    expect(parseConfig({ LOG_DECISIONS: value }).logDecisions).toBe(value);
  });

  it('refuses an unknown LOG_DECISIONS', () => {
    expect(() => parseConfig({ LOG_DECISIONS: 'some' })).toThrow(
      'LOG_DECISIONS="some" is invalid: expected none, deny or all',
    );
  });
});
