import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../src/config.js';
import { readRepoFile } from './helpers/deploy-files.js';
import {
  dockerStages,
  execForm,
  type Instruction,
  isDockerIgnored,
  labelPairs,
  parseDockerfile,
  type Stage,
} from './helpers/dockerfile.js';
import { freePort } from './helpers/free-port.js';
import { type IpgateProcess, spawnIpgate } from './helpers/process.js';
import { runCommand } from './helpers/run-command.js';

const packageJson = JSON.parse(readRepoFile('package.json')) as {
  name: string;
  version: string;
  description: string;
  license: string;
  main: string;
  bin?: Record<string, string>;
  scripts: Record<string, string>;
};
const stages = dockerStages(parseDockerfile(readRepoFile('Dockerfile')));
const build = stages[0] as Stage;
const runtime = stages.at(-1) as Stage;

function all(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

function last(stage: Stage, keyword: string): Instruction {
  const found = all(stage, keyword).at(-1);
  if (found === undefined) throw new Error(`no ${keyword} in the stage FROM ${stage.image}`);
  return found;
}

/** The HEALTHCHECK's command as argv: exec form as written, shell form through /bin/sh. */
function healthcheckCommand(): string[] {
  const match = /^(?:--\S+\s+)*CMD\s+([\s\S]+)$/.exec(last(runtime, 'HEALTHCHECK').args);
  const command = match?.[1] ?? '';
  return command.startsWith('[') ? execForm(command) : ['/bin/sh', '-c', command];
}

function runHealthcheck(port: number) {
  const [program = '', ...args] = healthcheckCommand();
  return runCommand(program, args, { env: { PATH: process.env.PATH, PORT: String(port) } });
}

describe('Dockerfile stages', () => {
  it('builds in one stage and ships from a later one, both on Node 20', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build.name).toBe('build');
    for (const stage of stages) expect(stage.image).toMatch(/^node:20-(alpine|slim|bookworm-slim)/);
  });

  it('installs every dependency in the build stage and compiles there', () => {
    const runs = all(build, 'RUN').map((run) => run.args);
    expect(runs.some((run) => /\bnpm ci\b/.test(run) && !run.includes('--omit=dev'))).toBe(true);
    expect(runs.some((run) => run.includes('npm run build'))).toBe(true);
  });

  it('ships production dependencies and the compiled output only', () => {
    const installs = all(runtime, 'RUN').filter((run) => /\bnpm (ci|install)\b/.test(run.args));
    expect(installs.map((run) => run.args)).toEqual([expect.stringMatching(/npm ci --omit=dev\b/)]);

    const copiedFromBuild = all(runtime, 'COPY')
      .filter((copy) => copy.args.startsWith('--from='))
      .flatMap((copy) => copy.args.split(/\s+/).slice(1, -1));
    expect(copiedFromBuild).toEqual(['/app/dist']);
    expect(last(runtime, 'COPY').args).toMatch(new RegExp(`^--from=${build.name} `));
  });
});

describe('the shipped image', () => {
  it('runs as a user other than root', () => {
    expect(last(runtime, 'USER').args).not.toMatch(/^(root|0)(:|$)/);
  });

  it('has tini as PID 1, so SIGTERM reaches node', () => {
    const entrypoint = execForm(last(runtime, 'ENTRYPOINT').args);
    expect(entrypoint[0]).toMatch(/\/tini$/);
    expect(entrypoint.slice(1)).toEqual(['--']);
    expect(
      all(runtime, 'RUN').some((run) => /\b(apk add|apt-get install)\b.*\btini\b/.test(run.args)),
    ).toBe(true);
  });

  it('puts the ipgate command line on PATH, running the cli.js the build emits', () => {
    const wrapper = all(runtime, 'RUN').find((run) => run.args.includes('/usr/local/bin/ipgate'));
    expect(wrapper?.args).toContain(`exec node /app/dist/cli.js "$@"`);
    expect(wrapper?.args).toMatch(/chmod 755 \/usr\/local\/bin\/ipgate/);
    expect(packageJson.bin).toEqual({ ipgate: 'dist/cli.js' });
  });

  it('writes a wrapper that hands every argument to node unchanged', async () => {
    const wrapper = all(runtime, 'RUN').find((run) => run.args.includes('/usr/local/bin/ipgate'));
    const dir = await mkdtemp(join(tmpdir(), 'ipgate-wrapper-'));
    try {
      // The same shell command, writing into a temporary folder, around a stand-in cli.js.
      await writeFile(join(dir, 'cli.js'), 'console.log(JSON.stringify(process.argv.slice(2)))');
      const script = (wrapper?.args ?? '')
        .replaceAll('/usr/local/bin/ipgate', join(dir, 'ipgate'))
        .replaceAll('/app/dist/cli.js', join(dir, 'cli.js'));
      expect((await runCommand('sh', ['-c', script])).code).toBe(0);

      const result = await runCommand(join(dir, 'ipgate'), ['grants', 'add', '--note', 'a b "c"']);
      expect(JSON.parse(result.stdout)).toEqual(['grants', 'add', '--note', 'a b "c"']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exposes the port ipgate listens on by default', () => {
    expect(last(runtime, 'EXPOSE').args).toBe(SETTINGS.PORT);
  });

  it('carries OCI labels that agree with package.json and the base image', () => {
    const labels = new Map(all(runtime, 'LABEL').flatMap((label) => [...labelPairs(label.args)]));
    expect(Object.fromEntries(labels)).toEqual({
      'org.opencontainers.image.title': packageJson.name,
      'org.opencontainers.image.description': packageJson.description,
      'org.opencontainers.image.version': packageJson.version,
      'org.opencontainers.image.licenses': packageJson.license,
      'org.opencontainers.image.base.name': runtime.image,
    });
  });

  it('starts with the same command as npm start, on the file the build emits from src/main.ts', () => {
    expect(execForm(last(runtime, 'CMD').args)).toEqual(packageJson.scripts.start?.split(' '));
    expect(packageJson.scripts.start).toBe(
      `node --max-semi-space-size=8 --heap-growing-percent=10 ${packageJson.main}`,
    );

    const buildConfig = JSON.parse(readRepoFile('tsconfig.build.json')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    const { rootDir, outDir } = buildConfig.compilerOptions;
    expect(`${outDir}/main.js`).toBe(packageJson.main);
    expect(`${rootDir}/main.ts`).toBe('src/main.ts');
  });

  it('checks health with node against the liveness route, without curl or wget', () => {
    const healthcheck = last(runtime, 'HEALTHCHECK').args;
    expect(healthcheck).toMatch(/--timeout=\d+s/);
    expect(healthcheck).not.toMatch(/\b(curl|wget)\b/);
    expect(healthcheckCommand()[0]).toBe('node');

    expect(/'(\/[a-z]+)'/.exec(healthcheckCommand().join(' '))?.[1]).toBe('/healthz');
  });
});

describe('the HEALTHCHECK command, run for real', () => {
  let ipgate: IpgateProcess;
  let port: number;

  beforeAll(async () => {
    // /healthz needs no Redis; ipgate starts and stays live while Redis is away.
    ipgate = await spawnIpgate({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    await ipgate.waitForLog('ipgate started');
    port = Number(new URL(ipgate.url).port);
  });

  afterAll(async () => {
    if (ipgate.child.exitCode === null) ipgate.child.kill('SIGKILL');
    await ipgate.exited;
  });

  it('exits 0 while ipgate runs', async () => {
    const result = await runHealthcheck(port);
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it('exits non-zero, within its timeout, once SIGTERM has shut ipgate down', async () => {
    ipgate.child.kill('SIGTERM');
    expect(await ipgate.exited).toBe(0);
    expect(ipgate.lines.map((line) => line.msg)).toContain('stopped');

    const result = await runHealthcheck(port);
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.elapsedMs).toBeLessThan(5000);
  });
});

describe('.dockerignore', () => {
  const ignoreFile = readRepoFile('.dockerignore');

  it.each([
    'tests/deploy-dockerfile.test.ts',
    'docs/migrating.md',
    'README.md',
    'node_modules/hono/package.json',
    'dist/main.js',
    '.git/HEAD',
    '.env',
    '.env.example',
    'coverage/index.html',
    'scripts/import-sqlite.ts',
    'ips.db',
    'dump.rdb',
    'compose.yaml',
    'Dockerfile',
  ])('keeps %s out of the build context', (path) => {
    expect(isDockerIgnored(path, ignoreFile)).toBe(true);
  });

  it('lets in every path the Dockerfile copies from the context', () => {
    const sources = stages
      .flatMap((stage) => all(stage, 'COPY'))
      .filter((copy) => !copy.args.startsWith('--from='))
      .flatMap((copy) =>
        copy.args
          .split(/\s+/)
          .filter((part) => !part.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources).toContain('src');
    for (const source of [...sources, 'src/main.ts']) {
      expect(isDockerIgnored(source, ignoreFile), source).toBe(false);
    }
  });
});
