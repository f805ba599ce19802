import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLastSeen, planImport } from '../scripts/import-sqlite.js';
import { REPO_ROOT } from './helpers/deploy-files.js';
import { request } from './helpers/http.js';
import { type IpgateProcess, spawnIpgate } from './helpers/process.js';
import { RedisServer } from './helpers/redis-server.js';
import { runCommand } from './helpers/run-command.js';

const DAY_MS = 86_400_000;
const TTL_DAYS = 30;
const NOW = Date.now();

// Times as the old recipe may have written them, each with the instant it stands for.
const isoNaive = new Date(NOW - 1 * DAY_MS).toISOString().slice(0, 23); // isoformat()
const unixSeconds = Math.floor((NOW - 2 * DAY_MS) / 1000); // int(time.time())
const olderSeconds = unixSeconds - DAY_MS / 1000;
const sqliteText = new Date(NOW - 10 * DAY_MS).toISOString().slice(0, 19).replace('T', ' ');

const ROWS: readonly [string, string | number][] = [
  ['203.0.113.7', `${isoNaive}456`],
  ['2001:DB8:1:2::ABCD', unixSeconds],
  ['2001:db8:1:2::1', olderSeconds],
  ['::ffff:198.51.100.9', sqliteText],
  ['192.0.2.1', new Date(NOW - 40 * DAY_MS).toISOString()],
  ['not-an-ip', unixSeconds],
  ['224.0.0.1', unixSeconds],
  ['198.51.100.20', 'yesterday'],
];

const EXPECTED = {
  'ipgate:ip:203.0.113.7': { ip: '203.0.113.7', loginAt: Date.parse(`${isoNaive}Z`) },
  'ipgate:ip:2001:db8:1:2::/64': { ip: '2001:db8:1:2::abcd', loginAt: unixSeconds * 1000 },
  'ipgate:ip:198.51.100.9': { ip: '198.51.100.9', loginAt: Date.parse(`${sqliteText}Z`) },
};

function sqlLiteral(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

/** Creates an SQLite file with the sqlite3 tool, as the old recipe's database. */
async function createDatabase(path: string, sql: string): Promise<void> {
  const result = await runCommand('sqlite3', [path, sql]);
  expect(result.stderr).toBe('');
}

function importScript(args: readonly string[], redisUrl: string) {
  return runCommand(process.execPath, ['--import', 'tsx', 'scripts/import-sqlite.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, REDIS_URL: redisUrl, TTL_DAYS: String(TTL_DAYS) },
  });
}

/** Every grant in a Redis: its parsed value and its end (PEXPIRETIME, ms). */
async function grantsIn(client: Redis): Promise<Record<string, { value: unknown; end: number }>> {
  const grants: Record<string, { value: unknown; end: number }> = {};
  for (const key of (await client.keys('ipgate:ip:*')).sort()) {
    const value = JSON.parse((await client.get(key)) ?? 'null') as unknown;
    grants[key] = { value, end: Number(await client.call('PEXPIRETIME', key)) };
  }
  return grants;
}

describe('parseLastSeen', () => {
  it.each([
    ['Unix seconds', 1_767_225_600, Date.UTC(2026, 0, 1)],
    ['Unix seconds with a fraction', 1_767_225_600.25, Date.UTC(2026, 0, 1) + 250],
    ['Unix seconds as text', '1767225600', Date.UTC(2026, 0, 1)],
    ['milliseconds', 1_767_225_600_123, Date.UTC(2026, 0, 1) + 123],
    ["SQLite's CURRENT_TIMESTAMP", '2026-01-01 00:00:00', Date.UTC(2026, 0, 1)],
    ['isoformat() with microseconds', '2026-01-01T00:00:00.123456', Date.UTC(2026, 0, 1) + 123],
    ['ISO 8601 with Z', '2026-01-01T00:00:00Z', Date.UTC(2026, 0, 1)],
    ['an offset', '2026-01-01T02:00:00+02:00', Date.UTC(2026, 0, 1)],
    ['an offset without a colon', '2026-01-01T02:00:00+0200', Date.UTC(2026, 0, 1)],
    ['minutes only', '2026-01-01 00:00', Date.UTC(2026, 0, 1)],
  ])('reads %s', (_, value, expected) => {
    expect(parseLastSeen(value)).toBe(expected);
  });

  it.each([null, '', 'yesterday', '2026-13-01 00:00:00', '01/01/2026', 0, -5, Number.NaN])(
    'refuses %j',
    (value) => {
      expect(parseLastSeen(value)).toBeUndefined();
    },
  );
});

describe('planImport', () => {
  const settings = { grantTtlSeconds: 3600, ipv4Prefix: 32, ipv6Prefix: 64 };

  it('counts a last_seen in the future from now, as the webhook does', () => {
    const { grants } = planImport(
      [{ ip: '203.0.113.7', last_seen: (NOW + DAY_MS) / 1000 }],
      settings,
      NOW,
    );
    expect(grants).toEqual([
      {
        grant: '203.0.113.7',
        expiresAt: NOW + 3_600_000,
        record: { user: 'imported', loginAt: new Date(NOW).toISOString() },
      },
    ]);
  });

  it('skips a row that ends exactly now', () => {
    const rows = [{ ip: '203.0.113.7', last_seen: (NOW - 3_600_000) / 1000 }];
    expect(planImport(rows, settings, NOW).skipped).toEqual([
      { ip: '203.0.113.7', reason: 'expired' },
    ]);
  });
});

describe('scripts/import-sqlite.ts against a real SQLite file and Redis', () => {
  let dir: string;
  let database: string;
  let redis: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipgate-import-'));
    database = join(dir, 'ips.db');
    const values = ROWS.map(([ip, seen]) => `(${sqlLiteral(ip)}, ${sqlLiteral(seen)})`);
    // No declared type on last_seen: integers stay integers, as Python's sqlite3 stores them.
    await createDatabase(
      database,
      `CREATE TABLE ips (ip TEXT PRIMARY KEY, last_seen); INSERT INTO ips VALUES ${values.join(', ')};`,
    );
    redis = await RedisServer.start();
    client = redis.client();
  });

  afterAll(async () => {
    client.disconnect();
    await redis.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores each live row as the grant ipgate would have stored, ending at last_seen + TTL', async () => {
    const result = await importScript([database], redis.url);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trim().split('\n')).toEqual([
      'skipped "192.0.2.1": expired',
      'skipped "not-an-ip": not an IP address',
      'skipped "224.0.0.1": not a client address',
      'skipped "198.51.100.20": last_seen is not a time',
      '8 rows read, 4 skipped; 3 grants stored, 0 kept (a longer grant exists), 0 expired meanwhile',
    ]);

    const grants = await grantsIn(client);
    expect(Object.keys(grants)).toEqual(Object.keys(EXPECTED).sort());
    for (const [key, { loginAt }] of Object.entries(EXPECTED)) {
      expect(grants[key]?.end, key).toBe(loginAt + TTL_DAYS * DAY_MS);
      expect(grants[key]?.value, key).toEqual({
        user: 'imported',
        login_at: new Date(loginAt).toISOString(),
      });
    }
  });

  it('lets the imported addresses through ipgate, and no others', async () => {
    let ipgate: IpgateProcess | undefined;
    try {
      ipgate = await spawnIpgate({ REDIS_URL: redis.url, TTL_DAYS: String(TTL_DAYS) });
      await ipgate.waitForLog('redis connected');
      const verify = (client: string) =>
        request(`${ipgate?.url}/verify`, { headers: [['X-Forwarded-For', client]] });

      const allowed = await verify('203.0.113.7');
      expect(allowed.status).toBe(200);
      expect(allowed.headers['x-ipgate-user']).toBe('imported');
      expect(allowed.headers['x-ipgate-reason']).toBe('grant');
      expect((await verify('2001:db8:1:2:ffff::1')).status).toBe(200);
      expect((await verify('198.51.100.9')).status).toBe(200);
      expect((await verify('192.0.2.1')).status).toBe(403);
    } finally {
      ipgate?.child.kill('SIGKILL');
      await ipgate?.exited;
    }
  });

  it('prints redis-cli commands that store the very same grants', async () => {
    const printed = await importScript(['--print', database], redis.url);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stderr).toMatch(/8 rows read, 4 skipped; 3 SET commands printed\n$/);

    const direct = await grantsIn(client);
    await client.flushall();
    const piped = await runCommand('redis-cli', ['-p', String(redis.port)], {
      input: printed.stdout,
    });
    expect(piped.stdout).toBe('OK\nOK\nOK\n');

    expect(await grantsIn(client)).toEqual(direct);
  });

  it('leaves an existing key alone when the printed commands run again', async () => {
    const printed = await importScript(['--print', database], redis.url);
    const before = await grantsIn(client);
    const piped = await runCommand('redis-cli', ['-p', String(redis.port)], {
      input: printed.stdout,
    });
    expect(piped.stdout).toBe('\n\n\n');
    expect(await grantsIn(client)).toEqual(before);
  });

  it('asks for --table when several tables have ip and last_seen', async () => {
    const several = join(dir, 'several.db');
    await createDatabase(
      several,
      `CREATE TABLE a (ip, last_seen); CREATE TABLE b (ip, last_seen, note);
       INSERT INTO b VALUES ('203.0.113.99', ${Math.floor(NOW / 1000)}, 'x');`,
    );

    const refused = await importScript(['--print', several], redis.url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'several tables with ip and last_seen (a, b): pick one with --table',
    );

    const chosen = await importScript(['--print', '--table', 'b', several], redis.url);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(chosen.stdout).toMatch(/^SET "ipgate:ip:203\.0\.113\.99" /);
  });

  it('fails, naming the problem, on a file that is not there', async () => {
    const result = await importScript([join(dir, 'missing.db')], redis.url);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^import failed: sqlite3 failed on .*missing\.db: .*unable to open database/,
    );
  });
});
