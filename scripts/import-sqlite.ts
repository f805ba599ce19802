/**
 * Moves the grants of the old recipe (a webhook keeping `ip` and `last_seen` in SQLite)
 * into Redis, each ending where it would have ended there: `last_seen` + GRANT_TTL (or
 * TTL_DAYS). Expired rows are skipped. Usage and examples: docs/migrating.md.
 */
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type Config, parseConfig, redactUrl } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { grantFor } from '../src/grant.js';
import {
  formatGrantValue,
  type GrantRecord,
  GrantStore,
  type PutOutcome,
} from '../src/grant-store.js';
import { isNonClientAddress, parsePlainIpAddress } from '../src/ip-address.js';

const USAGE = `usage: node --env-file=.env --import tsx scripts/import-sqlite.ts [--print] [--table NAME] FILE

Reads FILE, the old recipe's SQLite database, with the sqlite3 command-line tool, and
stores each live row as an ipgate grant in REDIS_URL. With --print, writes redis-cli
commands (SET … NX) to stdout instead. --table names the table when more than one has the columns
ip and last_seen.`;

/** One row of the old table, as `sqlite3 -json` prints it. */
export interface OldRow {
  readonly ip: unknown;
  readonly last_seen: unknown;
}

/** A grant to store: its name, its record and its end, in ms since the epoch. */
export interface ImportedGrant {
  readonly grant: string;
  readonly record: GrantRecord;
  readonly expiresAt: number;
}

/** A row left out, and why. */
export interface SkippedRow {
  readonly ip: string;
  readonly reason: string;
}

/** The settings an import uses, from the same environment ipgate reads. */
export type ImportSettings = Pick<Config, 'grantTtlSeconds' | 'ipv4Prefix' | 'ipv6Prefix'>;

/**
 * Turns old rows into grants named as ipgate's webhook names them. Rows falling into the
 * same grant (two addresses of one IPv6 /64) keep the one that ends last.
 */
export function planImport(
  rows: readonly OldRow[],
  settings: ImportSettings,
  now: number,
): { grants: ImportedGrant[]; skipped: SkippedRow[] } {
  const grants = new Map<string, ImportedGrant>();
  const skipped: SkippedRow[] = [];

  for (const row of rows) {
    const planned = planRow(row, settings, now);
    if ('reason' in planned) {
      skipped.push(planned);
      continue;
    }
    const earlier = grants.get(planned.grant);
    if (earlier === undefined || earlier.expiresAt < planned.expiresAt) {
      grants.set(planned.grant, planned);
    }
  }
  return { grants: [...grants.values()], skipped };
}

function planRow(row: OldRow, settings: ImportSettings, now: number): ImportedGrant | SkippedRow {
  const ip = String(row.ip).trim().slice(0, 64);
  const address = parsePlainIpAddress(ip);
  if (address === undefined) return { ip, reason: 'not an IP address' };
  // The webhook refuses these too: they name a proxy or nothing, never a client.
  if (isNonClientAddress(address)) return { ip, reason: 'not a client address' };

  const lastSeen = parseLastSeen(row.last_seen);
  if (lastSeen === undefined) return { ip, reason: 'last_seen is not a time' };
  // A last_seen in the future (a wrong clock) counts from now, as the webhook does.
  const loginAt = Math.min(lastSeen, now);
  const expiresAt = loginAt + settings.grantTtlSeconds * 1000;
  if (expiresAt <= now) return { ip, reason: 'expired' };

  const record = { user: 'imported', loginAt: new Date(loginAt).toISOString() };
  return { grant: grantFor(address, settings), record, expiresAt };
}

/**
 * Reads `last_seen` in ms since the epoch: Unix seconds (Python's `time.time()`), or text
 * as SQLite's CURRENT_TIMESTAMP (`2025-05-01 12:00:00`) or `isoformat()` writes it. Text
 * without a zone is UTC, as both of those are. Undefined for anything else.
 */
export function parseLastSeen(value: unknown): number | undefined {
  if (typeof value === 'number') return fromUnixTime(value);
  if (typeof value !== 'string') return undefined;

  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return fromUnixTime(Number(text));
  const match =
    /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (match === null) return undefined;

  const [, date = '', time = '', fraction = '', zone = 'Z'] = match;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const ms = Date.parse(`${date}T${time}${fraction.slice(0, 4)}${offset}`);
  return Number.isNaN(ms) ? undefined : ms;
}

// Seconds, as Python writes them; a value past 1e11 (the year 5138 in seconds) is taken as
// milliseconds, as JavaScript writes them.
function fromUnixTime(value: number): number | undefined {
  if (!Number.isFinite(value) || value <= 0) return undefined;
  return Math.trunc(value >= 1e11 ? value : value * 1000);
}

/** The rows of the old table: the one named, else the only one with `ip` and `last_seen`. */
export async function readOldRows(file: string, table?: string): Promise<OldRow[]> {
  const name = table ?? (await findOldTable(file));
  const quoted = `"${name.replaceAll('"', '""')}"`;
  const rows = await sqlite(file, `SELECT ip, last_seen FROM ${quoted}`);
  return rows.map((row) => ({ ip: row.ip, last_seen: row.last_seen }));
}

async function findOldTable(file: string): Promise<string> {
  const tables = await sqlite(
    file,
    `SELECT m.name AS name FROM sqlite_master AS m WHERE m.type = 'table'
       AND (SELECT count(*) FROM pragma_table_info(m.name) AS c
            WHERE c.name IN ('ip', 'last_seen')) = 2`,
  );
  const names = tables.map((table) => String(table.name));
  if (names.length === 1 && names[0] !== undefined) return names[0];
  if (names.length === 0) throw new Error(`${file} has no table with columns ip and last_seen`);
  throw new Error(
    `${file} has several tables with ip and last_seen (${names.join(', ')}): pick one with --table`,
  );
}

// The sqlite3 tool rather than a native module: the import runs once, on a host that has
// the old database, and Node 20 has no SQLite of its own. -readonly never creates a file.
async function sqlite(file: string, sql: string): Promise<Record<string, unknown>[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('sqlite3', ['-readonly', '-json', file, sql], {
      maxBuffer: 512 * 1024 * 1024,
    }));
  } catch (error) {
    const cause = error as NodeJS.ErrnoException & { stderr?: string };
    if (cause.code === 'ENOENT') {
      throw new Error('sqlite3 not found: install it (apt install sqlite3)', { cause });
    }
    const stderr = cause.stderr?.trim() ?? '';
    throw new Error(`sqlite3 failed on ${file}: ${stderr === '' ? cause.message : stderr}`, {
      cause,
    });
  }
  // sqlite3 prints nothing at all for a query that returns no rows.
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as Record<string, unknown>[]);
}

/**
 * A redis-cli command storing the grant as GrantStore does: the same key, the same JSON
 * value (snake_case fields, in GrantStore's order) and the same end, as a PXAT time. NX
 * leaves an existing key alone, so a grant is never shortened and a permanent one (no TTL)
 * never gains an expiry, as with GrantStore.
 */
export function setCommand(key: string, imported: ImportedGrant): string {
  const value = formatGrantValue(imported.record);
  return `SET ${cliQuote(key)} ${cliQuote(value)} PXAT ${imported.expiresAt} NX`;
}

// redis-cli splits each line like a shell; inside double quotes it reads \\ and \" as
// escapes. Keys and JSON text hold no control characters (JSON.stringify escapes them).
function cliQuote(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

async function store(grants: readonly ImportedGrant[], config: Config): Promise<string> {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed."; the reason comes as an error event.
  let reason: Error | undefined;
  redis.on('error', (error: Error) => {
    reason = error;
  });
  const counts: Record<PutOutcome['status'], number> = { stored: 0, kept: 0, expired: 0 };
  try {
    await redis.connect().catch((error: unknown) => {
      const detail = reason?.message ?? String(error);
      throw new Error(`cannot reach Redis at ${redactUrl(config.redisUrl)}: ${detail}`, {
        cause: reason ?? error,
      });
    });
    const grantStore = new GrantStore(redis, config.redisPrefix);
    for (const { grant, record, expiresAt } of grants) {
      counts[(await grantStore.put(grant, record, expiresAt)).status] += 1;
    }
  } finally {
    redis.disconnect();
  }
  return `${counts.stored} grants stored, ${counts.kept} kept (a longer grant exists), ${counts.expired} expired meanwhile`;
}

function print(grants: readonly ImportedGrant[], config: Config): string {
  // Only for its key names: this client never connects.
  const keys = new GrantStore(new Redis({ lazyConnect: true }), config.redisPrefix);
  for (const imported of grants) {
    process.stdout.write(`${setCommand(keys.key(imported.grant), imported)}\n`);
  }
  return `${grants.length} SET commands printed`;
}

async function main(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { print: { type: 'boolean' }, table: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  const [file] = positionals;
  if (values.help === true || file === undefined || positionals.length > 1) {
    console.error(USAGE);
    return values.help === true ? 0 : 2;
  }

  const config = parseConfig(process.env);
  const rows = await readOldRows(file, values.table);
  const { grants, skipped } = planImport(rows, config, Date.now());
  const outcome = values.print === true ? print(grants, config) : await store(grants, config);

  for (const row of skipped) console.error(`skipped ${JSON.stringify(row.ip)}: ${row.reason}`);
  console.error(`${rows.length} rows read, ${skipped.length} skipped; ${outcome}`);
  return 0;
}

// The message, and its cause's when it adds something (Redis failing in the middle).
function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : '';
  return cause === '' || error.message.includes(cause)
    ? error.message
    : `${error.message}: ${cause}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const problems = error instanceof ConfigError ? error.problems : [explain(error)];
      for (const problem of problems) console.error(`import failed: ${problem}`);
      process.exitCode = 1;
    },
  );
}
