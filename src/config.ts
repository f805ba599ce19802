import { type Cidr, formatCidr, parseCidr } from './cidr.js';
import { parseDuration } from './duration.js';
import { ConfigError } from './errors.js';

/** Settings read from the environment once at start; frozen. */
export interface Config {
  readonly port: number;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly webhookSecret: string | undefined;
  readonly staticCidrs: readonly Cidr[];
  readonly grantTtlSeconds: number;
  readonly trustedProxies: readonly Cidr[];
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
  readonly logLevel: LogLevel;
  readonly cacheSize: number;
  readonly cacheTtlSeconds: number;
  readonly keyspaceEvents: boolean;
  readonly adminToken: string | undefined;
  readonly metricsToken: string | undefined;
  readonly denyLoginUrl: URL | undefined;
  readonly logDecisions: DecisionLogging;
}

/** Which decisions get an info log line: none, only denials (and 503s), or all. */
export const DECISION_LOGGING = ['none', 'deny', 'all'] as const;
export type DecisionLogging = (typeof DECISION_LOGGING)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every variable ipgate reads, with its default as written in `.env.example` and docs. */
export const SETTINGS = {
  PORT: '8080',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_PREFIX: 'ipgate:',
  WEBHOOK_SECRET: '',
  STATIC_CIDRS: '',
  GRANT_TTL: '30d',
  TRUSTED_PROXIES: '127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7',
  IPV4_PREFIX: '32',
  IPV6_PREFIX: '64',
  LOG_LEVEL: 'info',
  CACHE_SIZE: '100000',
  CACHE_TTL: '60s',
  REDIS_KEYSPACE_EVENTS: 'auto',
  ADMIN_TOKEN: '',
  METRICS_TOKEN: '',
  DENY_LOGIN_URL: '',
  LOG_DECISIONS: 'deny',
} as const;

/** Old names still accepted, from the YAML-writing recipe ipgate replaces. */
export const ALIASES = { STATIC_IPS: 'STATIC_CIDRS', TTL_DAYS: 'GRANT_TTL' } as const;

/** Longest accepted GRANT_TTL: ten years, in seconds. */
export const MAX_GRANT_TTL_SECONDS = 3650 * 86_400;

/** Shortest accepted webhook secret, in characters. */
export const MIN_SECRET_LENGTH = 16;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and checks every setting. Throws a {@link ConfigError} naming each invalid
 * variable, its value (never for a secret) and the form expected. An empty value is unset.
 */
export function parseConfig(env: Env): Config {
  const problems: string[] = [];
  const read = new Reader(env, problems);

  const config: Config = {
    port: read.integer('PORT', 1, 65_535),
    redisUrl: read.redisUrl(),
    redisPrefix: read.prefix(),
    webhookSecret: read.secret('WEBHOOK_SECRET'),
    staticCidrs: read.cidrs('STATIC_CIDRS', read.aliased('STATIC_CIDRS', 'STATIC_IPS')),
    grantTtlSeconds: read.grantTtl(),
    trustedProxies: read.cidrs('TRUSTED_PROXIES', read.value('TRUSTED_PROXIES')),
    ipv4Prefix: read.integer('IPV4_PREFIX', 16, 32),
    ipv6Prefix: read.integer('IPV6_PREFIX', 32, 128),
    logLevel: read.logLevel(),
    cacheSize: read.integer('CACHE_SIZE', 0, 1_000_000),
    cacheTtlSeconds: read.cacheTtl(),
    keyspaceEvents: read.keyspaceEvents(),
    adminToken: read.secret('ADMIN_TOKEN'),
    metricsToken: read.secret('METRICS_TOKEN'),
    denyLoginUrl: read.loginUrl(),
    logDecisions: read.decisionLogging(),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  Object.freeze(config.staticCidrs);
  Object.freeze(config.trustedProxies);
  return Object.freeze(config);
}

/** The settings as they may be logged: no secret, no Redis password. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    port: config.port,
    redisUrl: redactUrl(config.redisUrl),
    redisPrefix: config.redisPrefix,
    webhook: config.webhookSecret === undefined ? 'disabled' : 'enabled',
    staticCidrs: config.staticCidrs.length,
    grantTtlSeconds: config.grantTtlSeconds,
    trustedProxies: config.trustedProxies.map(formatCidr),
    ipv4Prefix: config.ipv4Prefix,
    ipv6Prefix: config.ipv6Prefix,
    logLevel: config.logLevel,
    cacheSize: config.cacheSize,
    cacheTtlSeconds: config.cacheTtlSeconds,
    keyspaceEvents: config.keyspaceEvents,
    admin: config.adminToken === undefined ? 'disabled' : 'enabled',
    metrics: config.metricsToken === undefined ? 'open' : 'token',
    denyLoginUrl: config.denyLoginUrl?.href,
    logDecisions: config.logDecisions,
  };
}

/**
 * The URL with its user and password replaced by `***`. Works on the raw text, up to the
 * last `@`, so that a password holding `/`, `?` or `#` cannot slip out of a URL parser.
 */
export function redactUrl(text: string): string {
  return text.replace(/^([^:/?#]*:\/\/).*@/s, '$1***@');
}

class Reader {
  readonly #env: Env;
  readonly #problems: string[];

  constructor(env: Env, problems: string[]) {
    this.#env = env;
    this.#problems = problems;
  }

  /** The trimmed value, or the default when unset or empty. */
  value(name: keyof typeof SETTINGS): string {
    return this.#raw(name) ?? SETTINGS[name];
  }

  /** The value of `name`, else of its old alias, else the default; both set is a problem. */
  aliased(name: keyof typeof SETTINGS, alias: keyof typeof ALIASES): string {
    const value = this.#raw(name);
    const old = this.#raw(alias);
    if (value !== undefined && old !== undefined) {
      this.#problems.push(
        `${name} and ${alias} are both set: ${alias} is the old name of ${name}; keep one`,
      );
    }
    return value ?? old ?? SETTINGS[name];
  }

  integer(name: keyof typeof SETTINGS, min: number, max: number): number {
    const text = this.value(name);
    const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
    if (value >= min && value <= max) return value;
    this.#problem(name, text, `an integer from ${min} to ${max}`);
    return min;
  }

  redisUrl(): string {
    const text = this.value('REDIS_URL');
    if (isRedisUrl(text)) return text;
    this.#problems.push(
      `REDIS_URL="${redactUrl(text)}" is invalid: expected redis://[user:password@]host[:port][/db] or rediss://… for TLS, db being a number`,
    );
    return text;
  }

  prefix(): string {
    const text = this.value('REDIS_PREFIX');
    if (/^[\x21-\x7e]{1,64}$/.test(text)) return text;
    this.#problem(
      'REDIS_PREFIX',
      text,
      '1 to 64 printable ASCII characters without spaces, such as ipgate:',
    );
    return text;
  }

  /** A bearer secret; its value never appears in a message. */
  secret(name: 'WEBHOOK_SECRET' | 'ADMIN_TOKEN' | 'METRICS_TOKEN'): string | undefined {
    const text = this.#raw(name);
    if (text === undefined) return undefined;
    if (text.length < MIN_SECRET_LENGTH) {
      this.#problems.push(
        `${name} is too short (${text.length} characters): expected at least ${MIN_SECRET_LENGTH}; generate one with "openssl rand -hex 32"`,
      );
    } else if (!/^[\x21-\x7e]{1,1024}$/.test(text)) {
      this.#problems.push(
        `${name} is invalid: expected at most 1024 printable ASCII characters without spaces, as it travels in an HTTP header`,
      );
    }
    return text;
  }

  loginUrl(): URL | undefined {
    const text = this.#raw('DENY_LOGIN_URL');
    if (text === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:')) {
      if (url.username === '' && url.password === '' && url.hash === '') return url;
    }
    this.#problem(
      'DENY_LOGIN_URL',
      text,
      'an absolute http:// or https:// URL without credentials or #fragment, such as https://auth.example.com/',
    );
    return undefined;
  }

  decisionLogging(): DecisionLogging {
    const text = this.value('LOG_DECISIONS');
    const found = DECISION_LOGGING.find((candidate) => candidate === text);
    if (found !== undefined) return found;
    this.#problem('LOG_DECISIONS', text, DECISION_LOGGING.join(', ').replace(/, (?=\w+$)/, ' or '));
    return 'deny';
  }

  cidrs(name: keyof typeof SETTINGS, text: string): Cidr[] {
    const cidrs: Cidr[] = [];
    for (const entry of text.split(/[\s,]+/).filter((part) => part !== '')) {
      const cidr = parseCidr(entry);
      if (cidr === undefined) {
        this.#problems.push(
          `${name} entry "${entry}" is invalid: expected an IPv4 or IPv6 address or CIDR such as 192.168.1.0/24 or 2001:db8::/48`,
        );
      } else {
        cidrs.push(cidr);
      }
    }
    return cidrs;
  }

  grantTtl(): number {
    const text = this.aliased('GRANT_TTL', 'TTL_DAYS');
    if (this.#raw('GRANT_TTL') === undefined && this.#raw('TTL_DAYS') !== undefined) {
      // The old recipe counted whole days.
      const days = /^[1-9]\d{0,3}$/.test(text) ? Number(text) : Number.NaN;
      if (days * 86_400 <= MAX_GRANT_TTL_SECONDS) return days * 86_400;
      this.#problem('TTL_DAYS', text, 'a whole number of days from 1 to 3650, or GRANT_TTL');
      return 1;
    }
    const seconds = parseDuration(text);
    if (seconds !== undefined && seconds <= MAX_GRANT_TTL_SECONDS) return seconds;
    this.#problem(
      'GRANT_TTL',
      text,
      'a duration from 1s to 3650d, such as 30d, 12h, 90m, 3600s, or plain seconds',
    );
    return 1;
  }

  cacheTtl(): number {
    const text = this.value('CACHE_TTL');
    const seconds = parseDuration(text);
    if (seconds !== undefined && seconds <= 3600) return seconds;
    this.#problem('CACHE_TTL', text, 'a duration from 1s to 1h, such as 60s or 5m');
    return 1;
  }

  keyspaceEvents(): boolean {
    const text = this.value('REDIS_KEYSPACE_EVENTS');
    if (text === 'auto' || text === 'off') return text === 'auto';
    this.#problem('REDIS_KEYSPACE_EVENTS', text, 'auto or off');
    return false;
  }

  logLevel(): LogLevel {
    const text = this.value('LOG_LEVEL');
    const level = LOG_LEVELS.find((candidate) => candidate === text);
    if (level !== undefined) return level;
    this.#problem('LOG_LEVEL', text, `one of ${LOG_LEVELS.join(', ')}`);
    return 'info';
  }

  #raw(name: string): string | undefined {
    const text = this.#env[name]?.trim();
    return text === undefined || text === '' ? undefined : text;
  }

  #problem(name: string, value: string, expected: string): void {
    this.#problems.push(`${name}="${value}" is invalid: expected ${expected}`);
  }
}

function isRedisUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const validProtocol = url.protocol === 'redis:' || url.protocol === 'rediss:';
  const validDb = /^\/?(\d{1,2})?$/.test(url.pathname);
  const noExtras = url.search === '' && url.hash === '';
  return validProtocol && url.hostname !== '' && validDb && noExtras;
}
