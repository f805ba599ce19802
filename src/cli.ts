#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { describeGrant } from './admin.js';
import { type Config, parseConfig } from './config.js';
import { ConfigError, IpgateError } from './errors.js';
import { publishGrantChange } from './grant-events.js';
import { type AuditEntry, GrantStore, type ListedGrant } from './grant-store.js';
import {
  type Checked,
  checkGrantTarget,
  checkText,
  checkTtl,
  MAX_NOTE_LENGTH,
  MAX_USER_LENGTH,
} from './manual-grant.js';

const USAGE = `Usage: ipgate <command> [options]

  grants list [--user NAME]                 every grant, with user, time left and login time
  grants show <address|grant>               one grant
  grants add <address|cidr> --ttl 12h [--user NAME] [--note TEXT]
                                            add a grant by hand (replaces one that is there)
  grants revoke <address|grant>             revoke one grant
  grants revoke --user NAME                 revoke every grant of a user
  audit [--count 20]                        newest entries of the audit trail

Options: --json prints JSON for scripts. Settings come from the environment, as for the
service (REDIS_URL, REDIS_PREFIX, IPV4_PREFIX, IPV6_PREFIX).
`;

/** Longest wait for one Redis command from the CLI, in ms: it is not on a request path. */
const CLI_REDIS_TIMEOUT_MS = 5000;

/** A problem the person can fix: printed without a stack trace, exit status 1 or 2. */
class UsageError extends IpgateError {
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super('ERR_USAGE', message);
    this.exitCode = exitCode;
  }
}

interface Options {
  readonly json: boolean;
  readonly user: string | undefined;
  readonly note: string | undefined;
  readonly ttl: string | undefined;
  readonly count: string | undefined;
}

/** Runs one CLI command; resolves with the exit status. */
async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { positionals, options } = parsed;
  if (positionals.length === 0 || positionals[0] === 'help') {
    process.stdout.write(USAGE);
    return positionals.length === 0 ? 2 : 0;
  }

  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`invalid configuration:\n${error.message}\n`);
    return 1;
  }

  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    commandTimeout: CLI_REDIS_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const store = new GrantStore(redis, config.redisPrefix);
    await dispatch(positionals, options, { config, redis, store });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    const cause =
      error instanceof IpgateError && error.cause instanceof Error ? error.cause : error;
    process.stderr.write(`ipgate: Redis is unavailable: ${(cause as Error).message}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      user: { type: 'string' },
      note: { type: 'string' },
      ttl: { type: 'string' },
      count: { type: 'string' },
    },
  });
  const options: Options = {
    json: values.json === true,
    user: values.user,
    note: values.note,
    ttl: values.ttl,
    count: values.count,
  };
  return { positionals, options };
}

interface Context {
  readonly config: Config;
  readonly redis: Redis;
  readonly store: GrantStore;
}

async function dispatch(words: string[], options: Options, context: Context): Promise<void> {
  const [command, action, target] = words;
  if (command === 'audit') return audit(options, context);
  if (command !== 'grants') throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);

  switch (action) {
    case 'list':
      return list(options, context);
    case 'show':
      return show(required(target, 'grants show needs an address or grant'), options, context);
    case 'add':
      return add(required(target, 'grants add needs an address or CIDR'), options, context);
    case 'revoke':
      if (options.user !== undefined) return revokeUser(options.user, options, context);
      return revoke(
        required(target, 'grants revoke needs an address, or --user'),
        options,
        context,
      );
    default:
      throw new UsageError(`unknown grants command "${action ?? ''}"\n\n${USAGE}`);
  }
}

async function list(options: Options, { store }: Context): Promise<void> {
  const user = options.user;
  let grants: ListedGrant[];
  if (user !== undefined) {
    grants = await store.findByUser(user);
  } else {
    const seen = new Map<string, ListedGrant>();
    let cursor = '0';
    do {
      const page = await store.list(cursor, 500);
      for (const listed of page.grants) seen.set(listed.grant, listed);
      cursor = page.cursor;
    } while (cursor !== '0');
    grants = [...seen.values()];
  }
  grants.sort((a, b) => a.grant.localeCompare(b.grant));
  if (options.json) return print(grants.map(describeGrant));
  if (grants.length === 0) return void process.stdout.write('no grants\n');
  printTable(
    ['GRANT', 'USER', 'EXPIRES IN', 'LOGIN AT', 'NOTE'],
    grants.map((listed) => grantRow(listed)),
  );
}

async function show(target: string, options: Options, { config, store }: Context) {
  const grant = valid(checkGrantTarget(target, config));
  const found = await store.lookup(grant);
  if (found === undefined) throw new UsageError(`no grant ${grant}`, 1);
  const ttlMs = found.expiresAt === null ? null : Math.max(0, found.expiresAt - Date.now());
  const listed = { grant, record: found.record, ttlMs };
  if (options.json) return print(describeGrant(listed));
  const titles = ['grant', 'user', 'expires in', 'login at', 'note'];
  const row = grantRow(listed);
  const pairs = titles.map((title, index): [string, string] => [title, row[index] ?? '-']);
  printPairs([...pairs, ['event id', dash(found.record.eventId)]]);
}

async function add(target: string, options: Options, context: Context): Promise<void> {
  const { config, store, redis } = context;
  const grant = valid(checkGrantTarget(target, config));
  if (options.ttl === undefined) throw new UsageError('grants add needs --ttl, such as --ttl 12h');
  const ttl = valid(checkTtl(options.ttl));
  const user = valid(checkText('user', options.user, MAX_USER_LENGTH));
  const note = valid(checkText('note', options.note, MAX_NOTE_LENGTH));

  const now = Date.now();
  const record = {
    ...(user === undefined ? {} : { user }),
    loginAt: new Date(now).toISOString(),
    ...(note === undefined ? {} : { note }),
  };
  const expiresAt = now + ttl * 1000;
  await store.set(grant, record, expiresAt, { source: 'cli' });
  await publishGrantChange(redis, config.redisPrefix, grant);
  const expiry = new Date(expiresAt).toISOString();
  if (options.json) return print({ status: 'granted', grant, expiresAt: expiry });
  process.stdout.write(`granted ${grant} until ${expiry}\n`);
}

async function revoke(target: string, options: Options, context: Context): Promise<void> {
  const { config, store, redis } = context;
  const grant = valid(checkGrantTarget(target, config));
  const record = await store.revoke(grant, { source: 'cli' });
  if (record === undefined) throw new UsageError(`no grant ${grant}`, 1);
  await publishGrantChange(redis, config.redisPrefix, grant);
  if (options.json) return print({ status: 'revoked', grant, user: record.user ?? null });
  process.stdout.write(`revoked ${grant}${record.user === undefined ? '' : ` (${record.user})`}\n`);
}

async function revokeUser(name: string, options: Options, context: Context): Promise<void> {
  const { config, store, redis } = context;
  const user = valid(checkText('user', name, MAX_USER_LENGTH));
  if (user === undefined) throw new UsageError('--user needs a name');
  const revoked: string[] = [];
  for (const listed of await store.findByUser(user)) {
    if ((await store.revoke(listed.grant, { source: 'cli' })) === undefined) continue;
    await publishGrantChange(redis, config.redisPrefix, listed.grant);
    revoked.push(listed.grant);
  }
  if (options.json) return print({ status: 'revoked', user, grants: revoked });
  process.stdout.write(`revoked ${revoked.length} grant(s) of ${user}\n`);
  for (const grant of revoked) process.stdout.write(`  ${grant}\n`);
}

async function audit(options: Options, { store }: Context): Promise<void> {
  const count = Number(options.count ?? '20');
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new UsageError('--count must be an integer from 1 to 10000');
  }
  const entries = await store.auditTrail(count);
  if (options.json) return print(entries.map(auditJson));
  if (entries.length === 0) return void process.stdout.write('no audit entries\n');
  printTable(
    ['TIME', 'ACTION', 'GRANT', 'USER', 'SOURCE', 'IP', 'EXPIRES AT'],
    entries.map(({ id, fields }) => [
      entryTime(id),
      fields.action ?? '-',
      fields.grant ?? '-',
      dash(fields.user),
      dash(fields.source),
      dash(fields.ip),
      dash(fields.expires_at),
    ]),
  );
}

function auditJson(entry: AuditEntry) {
  return { id: entry.id, time: entryTime(entry.id), ...entry.fields };
}

// A stream entry id starts with the ms time Redis added it.
function entryTime(id: string): string {
  return new Date(Number(id.split('-')[0])).toISOString();
}

function grantRow(listed: ListedGrant): string[] {
  const { record } = listed;
  return [
    listed.grant,
    dash(record.user),
    listed.ttlMs === null ? 'never' : humanDuration(listed.ttlMs),
    dash(record.loginAt),
    dash(record.note),
  ];
}

/** 93784000 ms → `1d 2h`; rounded down to the two largest units. */
function humanDuration(ms: number): string {
  let seconds = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (seconds >= size || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
}

function printPairs(pairs: [string, string][]): void {
  const width = Math.max(...pairs.map(([name]) => name.length));
  for (const [name, value] of pairs) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function dash(text: string | undefined): string {
  return text === undefined || text === '' ? '-' : text;
}

function required(value: string | undefined, message: string): string {
  if (value === undefined) throw new UsageError(message);
  return value;
}

function valid<T>(checked: Checked<T>): T {
  if (!checked.ok) throw new UsageError(checked.message);
  return checked.value;
}

runCli(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});
