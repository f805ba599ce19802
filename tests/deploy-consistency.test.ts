import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidr } from '../src/cidr.js';
import { ALIASES, SETTINGS } from '../src/config.js';
import { maskAddress } from '../src/ip-address.js';
import { REASON_HEADER, USER_HEADER } from '../src/verify.js';
import {
  type ForwardAuth,
  forwardAuthsInFile,
  forwardAuthsInLabels,
  loadYaml,
  objectAt,
  readRepoFile,
  repoFileExists,
  repoFiles,
} from './helpers/deploy-files.js';
import { request } from './helpers/http.js';
import { type IpgateProcess, spawnIpgate } from './helpers/process.js';
import { RedisServer } from './helpers/redis-server.js';

type Setting = keyof typeof SETTINGS;
const SETTING_NAMES = Object.keys(SETTINGS) as Setting[];
const KNOWN = new Set<string>([...SETTING_NAMES, ...Object.keys(ALIASES)]);

// Settings of the programs around ipgate, which its documentation may name too.
const FOREIGN_PREFIXES = ['AUTHENTIK_', 'TRAEFIK_'];

// The paths src/app.ts registers; src/ exports no constants for them yet.
const VERIFY_PATH = '/verify';
const WEBHOOK_PATH = '/authentik/webhook';

function unknown(names: Iterable<string>): string[] {
  const foreign = (name: string) => FOREIGN_PREFIXES.some((prefix) => name.startsWith(prefix));
  return [...new Set(names)].filter((name) => !KNOWN.has(name) && !foreign(name)).sort();
}

function matches(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => match[1] ?? '');
}

/** Compose interpolations: `${NAME…}` and `$NAME`; `$$` is a literal dollar sign. */
function interpolations(text: string): string[] {
  return matches(text, /(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)/g);
}

/** Names written as `${NAME}`, `NAME=…`, `NAME: …` (a YAML key) or `` `NAME_X` ``. */
function variablesNamed(text: string): string[] {
  return [
    ...matches(text, /\$\{([A-Z][A-Z0-9_]*)/g),
    ...matches(text, /(?:^|[\s`"'(])(?:export\s+)?([A-Z][A-Z0-9_]*)=/gm),
    ...matches(text, /^\s*-?\s*([A-Z][A-Z0-9_]*):\s/gm),
    ...matches(text, /`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g),
  ];
}

/** Every `NAME_WITH_UNDERSCORES` anywhere, comments included. */
function envLikeWords(text: string): string[] {
  return matches(text, /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g);
}

/** `NAME=value` lines of an env file, commented out (`# NAME=value`) or not. */
function envAssignments(text: string): { name: string; value: string; comment: string }[] {
  const lines = text.split('\n');
  return lines.flatMap((line, index) => {
    const match = /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match === null) return [];
    const value = (match[2] ?? '').trim().replace(/^(["'])(.*)\1$/, '$2');
    return [{ name: match[1] ?? '', value, comment: lines[index - 1] ?? '' }];
  });
}

/** The Default cell of each row of the Markdown table whose header has Variable and Default. */
function documentedDefaults(markdown: string): Map<string, string> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => /^\|\s*Variable\s*\|\s*Default\s*\|/.test(line));
  const defaults = new Map<string, string>();
  if (start < 0) return defaults;

  // The table ends at its first line that is not a row.
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [, name = '', value = ''] = line.split('|').map((cell) => cell.trim());
    const variable = /^`([A-Z][A-Z0-9_]*)`$/.exec(name)?.[1];
    if (variable !== undefined) defaults.set(variable, value);
  }
  return defaults;
}

const docsExist = {
  configuration: repoFileExists('docs/configuration.md'),
  readme: repoFileExists('README.md'),
};

describe('.env.example', () => {
  const text = readRepoFile('.env.example');
  const assignments = envAssignments(text);

  it('names only variables ipgate knows', () => {
    expect(unknown([...assignments.map((line) => line.name), ...envLikeWords(text)])).toEqual([]);
  });

  it('shows every setting once, with its default', () => {
    const shown = Object.fromEntries(assignments.map((line) => [line.name, line.value]));
    expect(assignments).toHaveLength(SETTING_NAMES.length);
    expect(shown).toEqual(SETTINGS);
  });

  it('explains each setting in a comment just above it', () => {
    for (const line of assignments) expect(line.comment, line.name).toMatch(/^# \S/);
  });

  it('leaves WEBHOOK_SECRET empty and tells how to generate one', () => {
    expect(text).toMatch(/^WEBHOOK_SECRET=$/m);
    expect(text).toContain('openssl rand -hex 32');
  });
});

describe('compose.yaml', () => {
  const text = readRepoFile('compose.yaml');
  const compose = loadYaml('compose.yaml');

  it('names only variables ipgate knows, with its defaults (REDIS_URL names the stack Redis)', () => {
    const environmentKeys = Object.values(objectAt(compose, 'services')).flatMap((service) =>
      Object.keys((service as { environment?: object }).environment ?? {}),
    );
    const named = [...interpolations(text), ...envLikeWords(text), ...environmentKeys];
    expect(unknown(named)).toEqual([]);

    for (const [, name = '', fallback] of text.matchAll(/\$\{([A-Z_]+):?-([^}]*)\}/g)) {
      if (name !== 'REDIS_URL') expect(fallback, name).toBe(SETTINGS[name as Setting]);
    }
  });
});

describe.skipIf(!docsExist.configuration)(
  `docs/configuration.md${docsExist.configuration ? '' : ' (skipped: not written yet)'}`,
  () => {
    const text = docsExist.configuration ? readRepoFile('docs/configuration.md') : '';

    it('names only variables ipgate knows', () => {
      expect(unknown(variablesNamed(text))).toEqual([]);
    });

    it('lists every setting with its default in the Variable/Default table', () => {
      const defaults = documentedDefaults(text);
      for (const name of SETTING_NAMES) {
        const cell = defaults.get(name);
        expect(cell, `${name} has no row`).toBeDefined();
        // An empty default is written in words (such as "empty"), never as a value.
        if (SETTINGS[name] === '') expect(cell, name).not.toMatch(/`[^`]+`/);
        else expect(cell, name).toBe(`\`${SETTINGS[name]}\``);
      }
    });
  },
);

describe.skipIf(!docsExist.readme)(
  `README.md${docsExist.readme ? '' : ' (skipped: not written yet)'}`,
  () => {
    it('names only variables ipgate knows', () => {
      expect(unknown(variablesNamed(readRepoFile('README.md')))).toEqual([]);
    });
  },
);

describe('ports, paths and headers', () => {
  const files = [
    'compose.yaml',
    '.env.example',
    'README.md',
    ...repoFiles('docs', ['.md']),
    ...repoFiles('traefik', ['.yml', '.yaml', '.md']),
  ].filter(repoFileExists);
  const compose = loadYaml('compose.yaml');

  // The real process answers: ipgate's own 404 means a path it does not serve.
  let redis: RedisServer;
  let ipgate: IpgateProcess;
  const status = async (method: string, path: string) =>
    (await request(`${ipgate.url}${path}`, { method })).status;

  beforeAll(async () => {
    redis = await RedisServer.start();
    // With the admin API on, so that the paths docs/admin.md calls exist.
    ipgate = await spawnIpgate({ REDIS_URL: redis.url, ADMIN_TOKEN: 'admin-token-0123456789' });
    await ipgate.waitForLog('redis connected');
  });

  afterAll(async () => {
    ipgate.child.kill('SIGKILL');
    await ipgate.exited;
    await redis.destroy();
  });

  it('answers on /verify for any method, the webhook, /healthz and /readyz', async () => {
    expect(await status('GET', VERIFY_PATH)).toBe(403);
    expect(await status('POST', VERIFY_PATH)).toBe(403);
    expect(await status('POST', WEBHOOK_PATH)).toBe(503);
    expect(await status('GET', '/healthz')).toBe(200);
    expect(await status('GET', '/readyz')).toBe(200);
    expect(await status('GET', '/verify/')).toBe(404);
    expect(await status('GET', '/metrics')).toBe(200);
    expect(await status('GET', '/admin/grants')).toBe(401);
  });

  it.each(files)('%s calls ipgate only on its port and on paths it serves', async (path) => {
    const pattern = /\bhttps?:\/\/(ipgate|localhost|127\.0\.0\.1)(?::(\d+))?(\/[\w./-]*)?/g;
    for (const [url, host, port, urlPath] of readRepoFile(path).matchAll(pattern)) {
      if (host !== 'ipgate' && port !== SETTINGS.PORT) continue;
      expect(port, url).toBe(SETTINGS.PORT);
      if (urlPath === undefined || urlPath === '/') continue;
      const method = urlPath === WEBHOOK_PATH ? 'POST' : 'GET';
      expect(await status(method, urlPath), url).not.toBe(404);
    }
  });

  it.each(files)('%s names only the X-Ipgate headers ipgate sends', (path) => {
    // Header names are case-insensitive; logs and nginx variables show them in lower case.
    const sent = [USER_HEADER, REASON_HEADER].map((name) => name.toLowerCase());
    for (const [header] of readRepoFile(path).matchAll(/X-Ipgate-[A-Za-z0-9-]+/gi)) {
      expect(sent, path).toContain(header.toLowerCase());
    }
  });

  it('defines the ipgate middleware the same way in compose.yaml and traefik/', () => {
    const forwardAuths: ForwardAuth[] = [
      ...forwardAuthsInLabels('compose.yaml', compose),
      ...forwardAuthsInLabels('traefik/docker-labels.yml', loadYaml('traefik/docker-labels.yml')),
      ...repoFiles('traefik/dynamic', ['.yml', '.yaml']).flatMap((path) =>
        forwardAuthsInFile(path, loadYaml(path)),
      ),
    ];
    expect(forwardAuths.map((auth) => auth.source)).toEqual([
      'compose.yaml (labels of whoami)',
      'traefik/docker-labels.yml (labels of app)',
      'traefik/dynamic/ipgate.yml',
    ]);
    for (const auth of forwardAuths) {
      expect(auth.name, auth.source).toBe('ipgate');
      expect(auth.address, auth.source).toBe(`http://ipgate:${SETTINGS.PORT}${VERIFY_PATH}`);
      expect([...auth.authResponseHeaders].sort(), auth.source).toEqual(
        [USER_HEADER, REASON_HEADER].sort(),
      );
      // Left unset, Traefik 3.6.14+ warns and uses a deprecated legacy mode.
      expect([true, false, 'true', 'false'], auth.source).toContain(auth.trustForwardHeader);
    }
  });

  it("trusts at Traefik's entryPoints only peers inside ipgate's default TRUSTED_PROXIES", () => {
    const staticConfig = objectAt(loadYaml('traefik/traefik.yml'), 'entryPoints');
    const fromStatic = Object.values(staticConfig).flatMap(
      (ep) => objectAt(ep, 'forwardedHeaders').trustedIPs as string[],
    );
    const flags = objectAt(compose, 'services', 'traefik').command as string[];
    const fromFlags = flags.flatMap(
      (flag) => /^--entryPoints\.\w+\.forwardedHeaders\.trustedIPs=(.*)$/.exec(flag)?.[1] ?? [],
    );
    const entries = [...fromStatic, ...fromFlags.flatMap((list) => list.split(','))];
    const defaults = SETTINGS.TRUSTED_PROXIES.split(/[\s,]+/).map((entry) => parseCidr(entry));

    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      const cidr = parseCidr(entry);
      const covered = defaults.some(
        (network) =>
          network !== undefined &&
          cidr !== undefined &&
          network.network.family === cidr.network.family &&
          network.length <= cidr.length &&
          maskAddress(cidr.network, network.length).text === network.network.text,
      );
      expect(covered, entry).toBe(true);
    }
  });
});
