import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The repository's root directory. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the shared JSON schemas live: ../shared/schemas beside the repository. */
export const SCHEMA_DIR = resolve(REPO_ROOT, '..', 'shared', 'schemas');

export function repoFileExists(path: string): boolean {
  return existsSync(join(REPO_ROOT, path));
}

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** A YAML file of the repository as plain data; duplicate keys and syntax errors throw. */
export function loadYaml(path: string): unknown {
  return parse(readRepoFile(path), { strict: true, uniqueKeys: true });
}

/** Files under a repository directory whose names end in one of `extensions`, sorted. */
export function repoFiles(directory: string, extensions: readonly string[]): string[] {
  const root = join(REPO_ROOT, directory);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((name) => extensions.some((extension) => name.endsWith(extension)))
    .map((name) => relative(REPO_ROOT, join(root, name)))
    .sort();
}

/** A shared schema, or why it is missing, phrased for a test name. */
export interface SchemaFile {
  readonly name: string;
  readonly schema: Record<string, unknown> | undefined;
  readonly missing: string | undefined;
}

export function loadSchema(name: string): SchemaFile {
  const path = join(SCHEMA_DIR, name);
  if (!existsSync(path)) {
    return { name, schema: undefined, missing: `skipped: ${path} not found` };
  }
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  return { name, schema, missing: undefined };
}

/** Reads an object property that a test expects to hold an object. */
export function objectAt(value: unknown, ...path: string[]): Record<string, unknown> {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) {
      throw new Error(`no object at ${path.join('.')}`);
    }
    current = (current as Record<string, unknown>)[key];
  }
  if (typeof current !== 'object' || current === null || Array.isArray(current)) {
    throw new Error(`no object at ${path.join('.')}`);
  }
  return current as Record<string, unknown>;
}

/** Docker labels as a map, whether compose lists them as a map or as `key=value` lines. */
export function labelsOf(service: Record<string, unknown>): Map<string, string> {
  const labels = service.labels ?? {};
  const entries = Array.isArray(labels)
    ? labels.map((line: string) => {
        const equals = line.indexOf('=');
        return [line.slice(0, equals), line.slice(equals + 1)] as const;
      })
    : Object.entries(labels as Record<string, unknown>).map(
        ([key, value]) => [key, String(value)] as const,
      );
  return new Map(entries);
}

/** A forwardAuth middleware as defined in one place, its options as written. */
export interface ForwardAuth {
  readonly source: string;
  readonly name: string;
  readonly address: unknown;
  readonly trustForwardHeader: unknown;
  readonly authResponseHeaders: readonly string[];
}

/** Every forwardAuth middleware defined by Traefik Docker labels in a compose file. */
export function forwardAuthsInLabels(source: string, compose: unknown): ForwardAuth[] {
  const found: ForwardAuth[] = [];
  for (const [serviceName, service] of Object.entries(objectAt(compose, 'services'))) {
    const options = new Map<string, Map<string, string>>();
    for (const [key, value] of labelsOf(service as Record<string, unknown>)) {
      // Traefik reads label keys without regard to case.
      const match = /^traefik\.http\.middlewares\.([^.]+)\.forwardauth\.(.+)$/i.exec(key);
      if (match === null) continue;
      const [, name = '', option = ''] = match;
      const middleware = options.get(name) ?? new Map<string, string>();
      middleware.set(option.toLowerCase(), value);
      options.set(name, middleware);
    }
    for (const [name, option] of options) {
      found.push({
        source: `${source} (labels of ${serviceName})`,
        name,
        address: option.get('address'),
        trustForwardHeader: option.get('trustforwardheader'),
        authResponseHeaders: (option.get('authresponseheaders') ?? '').split(','),
      });
    }
  }
  return found;
}

/** Every forwardAuth middleware in a file-provider dynamic configuration. */
export function forwardAuthsInFile(source: string, dynamic: unknown): ForwardAuth[] {
  return Object.entries(objectAt(dynamic, 'http', 'middlewares')).flatMap(([name, value]) => {
    const options = (value as Record<string, unknown>).forwardAuth as
      | Record<string, unknown>
      | undefined;
    if (options === undefined) return [];
    return [
      {
        source,
        name,
        address: options.address,
        trustForwardHeader: options.trustForwardHeader,
        authResponseHeaders: (options.authResponseHeaders ?? []) as string[],
      },
    ];
  });
}
