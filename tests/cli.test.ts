import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';
import { type CommandResult, runCommand } from './helpers/run-command.js';

let redis: RedisServer;
let ipgate: TestIpgate;

beforeAll(async () => {
  redis = await RedisServer.start();
  ipgate = await startIpgate({ REDIS_URL: redis.url, TRUSTED_PROXIES: '127.0.0.1' });
});

afterAll(async () => {
  await ipgate.close();
  await redis.destroy();
});

beforeEach(async () => {
  await ipgate.reset();
});

/** Runs `ipgate …` as its own process, with the service's environment variables. */
function ipgateCli(...args: string[]): Promise<CommandResult> {
  return runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: { PATH: process.env.PATH, REDIS_URL: redis.url },
  });
}

function verify(client: string) {
  return request(`${ipgate.url}/verify`, { headers: [['X-Forwarded-For', client]] });
}

describe('ipgate grants', () => {
  it('adds a grant that /verify allows, and lists it in a table', async () => {
    const added = await ipgateCli(
      'grants',
      'add',
      '198.51.100.7',
      '--ttl',
      '2h',
      '--user',
      'alice',
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^granted 198\.51\.100\.7 until \d{4}-\d\d-\d\dT/);
    expect((await verify('198.51.100.7')).status).toBe(200);

    const listed = await ipgateCli('grants', 'list');
    const [header, row] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^GRANT\s+USER\s+EXPIRES IN\s+LOGIN AT\s+NOTE$/);
    expect(row).toMatch(/^198\.51\.100\.7\s+alice\s+1h 59m\s+\S+Z\s+-$/);
  });

  it('prints JSON for scripts', async () => {
    await ipgateCli('grants', 'add', '2001:db8:1:2::10', '--ttl', '1h', '--note', 'lab');
    const listed = await ipgateCli('grants', 'list', '--json');
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        grant: '2001:db8:1:2::/64',
        user: null,
        loginAt: expect.any(String),
        eventId: null,
        note: 'lab',
        ttlSeconds: expect.any(Number),
      },
    ]);
    const shown = await ipgateCli('grants', 'show', '2001:db8:1:2::/64', '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ grant: '2001:db8:1:2::/64', note: 'lab' });
  });

  it('revokes a grant that a running replica has cached, at once', async () => {
    await ipgateCli('grants', 'add', '198.51.100.7', '--ttl', '1h');
    expect((await verify('198.51.100.7')).status).toBe(200);
    expect((await verify('198.51.100.7')).status).toBe(200);

    const revoked = await ipgateCli('grants', 'revoke', '198.51.100.7');
    expect(revoked.stdout).toBe('revoked 198.51.100.7\n');
    expect((await verify('198.51.100.7')).status).toBe(403);
  });

  it('revokes every grant of a user', async () => {
    await ipgateCli('grants', 'add', '198.51.100.7', '--ttl', '1h', '--user', 'alice');
    await ipgateCli('grants', 'add', '198.51.100.8', '--ttl', '1h', '--user', 'alice');
    await ipgateCli('grants', 'add', '198.51.100.9', '--ttl', '1h', '--user', 'bob');
    const revoked = await ipgateCli('grants', 'revoke', '--user', 'alice', '--json');
    expect(JSON.parse(revoked.stdout).grants.sort()).toEqual(['198.51.100.7', '198.51.100.8']);
    expect(await ipgate.redis.keys('ipgate:ip:*')).toEqual(['ipgate:ip:198.51.100.9']);
  });

  it.each([
    [['grants', 'add', '203.0.113.0/24', '--ttl', '1h'], 2, 'is a /24, but grants are /32 wide'],
    [['grants', 'add', '203.0.113.7'], 2, 'grants add needs --ttl'],
    [['grants', 'show', '203.0.113.7'], 1, 'no grant 203.0.113.7'],
    [['grants', 'revoke', 'nonsense'], 2, 'is not an IP address or CIDR'],
    [['grants', 'frobnicate'], 2, 'unknown grants command "frobnicate"'],
  ])('refuses %j with status %i and a clear message', async (args, code, message) => {
    const result = await ipgateCli(...args);
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(message);
  });

  it('says so when Redis is unreachable', async () => {
    const result = await runCommand(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'grants', 'list'],
      {
        env: { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:1' },
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ipgate: Redis is unavailable: /);
  });
});

describe('ipgate audit', () => {
  it('shows the newest changes first, as a table and as JSON', async () => {
    await ipgateCli('grants', 'add', '198.51.100.7', '--ttl', '1h', '--user', 'alice');
    await ipgateCli('grants', 'revoke', '198.51.100.7');
    const table = await ipgateCli('audit');
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+ACTION\s+GRANT\s+USER\s+SOURCE\s+IP\s+EXPIRES AT$/);
    expect(lines[1]).toMatch(/^\S+Z\s+revoke\s+198\.51\.100\.7\s+alice\s+cli\s+-\s+-$/);
    expect(lines[2]).toMatch(/^\S+Z\s+grant\s+198\.51\.100\.7\s+alice\s+cli\s+-\s+\S+Z$/);

    const json = JSON.parse((await ipgateCli('audit', '--json', '--count', '1')).stdout);
    expect(json).toEqual([
      {
        id: expect.stringMatching(/^\d+-\d+$/),
        time: expect.any(String),
        action: 'revoke',
        grant: '198.51.100.7',
        user: 'alice',
        event_id: '',
        source: 'cli',
      },
    ]);
  });
});
