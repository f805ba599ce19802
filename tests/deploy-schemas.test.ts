import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  loadSchema,
  loadYaml,
  objectAt,
  repoFiles,
  type SchemaFile,
} from './helpers/deploy-files.js';

const compiled = new Map<string, ValidateFunction>();

// Both schemas are draft-07. Some name the draft's meta-schema by its https URL, which Ajv
// does not know by that name; the keywords are the same, so it is left out when compiling.
function validatorFor(file: SchemaFile): ValidateFunction {
  const { $schema: _draft, ...schema } = file.schema ?? {};
  const validate =
    compiled.get(file.name) ?? new Ajv({ allErrors: true, strict: false }).compile(schema);
  compiled.set(file.name, validate);
  return validate;
}

function errorsOf(validate: ValidateFunction, data: unknown): string[] {
  if (validate(data)) return [];
  return (validate.errors ?? []).map(
    (error: ErrorObject) => `${error.instancePath || '/'} ${error.message ?? ''}`,
  );
}

const compose = loadSchema('compose-spec.json');
const traefik = loadSchema('traefik-v3-file-provider.json');
const dynamicFiles = repoFiles('traefik/dynamic', ['.yml', '.yaml']);

describe(`Compose files against ${compose.name} ${compose.missing ?? ''}`.trim(), () => {
  const skip = compose.schema === undefined;

  it.skipIf(skip)('uses JSON Schema draft-07', () => {
    expect(compose.schema?.$schema).toMatch(/json-schema\.org\/draft-07\/schema/);
  });

  it.skipIf(skip).each(['compose.yaml', 'traefik/docker-labels.yml'])('%s is valid', (path) => {
    expect(errorsOf(validatorFor(compose), loadYaml(path))).toEqual([]);
  });

  it.skipIf(skip)('rejects compose.yaml with a misspelt depends_on condition', () => {
    const broken = loadYaml('compose.yaml');
    objectAt(broken, 'services', 'ipgate', 'depends_on', 'redis').condition = 'healthy';
    expect(errorsOf(validatorFor(compose), broken)).not.toEqual([]);
  });
});

describe(
  `Traefik dynamic configuration against ${traefik.name} ${traefik.missing ?? ''}`.trim(),
  () => {
    const skip = traefik.schema === undefined;

    it('finds the dynamic configuration files', () => {
      expect(dynamicFiles).toEqual(['traefik/dynamic/ipgate.yml']);
    });

    it.skipIf(skip)('uses JSON Schema draft-07', () => {
      expect(traefik.schema?.$schema).toMatch(/json-schema\.org\/draft-07\/schema/);
    });

    it.skipIf(skip).each(dynamicFiles)('%s is valid', (path) => {
      expect(errorsOf(validatorFor(traefik), loadYaml(path))).toEqual([]);
    });

    it.skipIf(skip)('rejects a forwardAuth option the schema does not know', () => {
      const broken = loadYaml('traefik/dynamic/ipgate.yml');
      objectAt(broken, 'http', 'middlewares', 'ipgate', 'forwardAuth').adress = 'http://x';
      expect(errorsOf(validatorFor(traefik), broken)).not.toEqual([]);
    });

    // traefik/traefik.yml is static configuration, which this schema does not describe (it
    // allows only http, tcp, udp and tls); tests/deploy-stack.test.ts checks its shape.
    it.skipIf(skip)('does not describe traefik/traefik.yml, which is static configuration', () => {
      expect(errorsOf(validatorFor(traefik), loadYaml('traefik/traefik.yml'))).not.toEqual([]);
    });
  },
);
