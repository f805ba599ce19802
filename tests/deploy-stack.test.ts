import { describe, expect, it } from 'vitest';
import { labelsOf, loadYaml, objectAt, readRepoFile } from './helpers/deploy-files.js';

const compose = loadYaml('compose.yaml');
const services = objectAt(compose, 'services');
const ipgate = objectAt(services, 'ipgate');
const redis = objectAt(services, 'redis');

describe('compose.yaml: ipgate', () => {
  it('builds the image from this repository', () => {
    expect(ipgate.build).toBe('.');
  });

  it('starts once Redis is healthy and restarts unless stopped', () => {
    expect(ipgate.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(ipgate.restart).toBe('unless-stopped');
  });

  it('publishes no host port and runs in every profile', () => {
    expect(ipgate).not.toHaveProperty('ports');
    expect(ipgate).not.toHaveProperty('profiles');
  });

  it('reads its settings from .env', () => {
    expect(ipgate.env_file).toEqual([{ path: '.env', required: false }]);
  });

  it("points at the stack's own redis service unless .env names another Redis", () => {
    const url = /^\$\{REDIS_URL:-(.+)\}$/.exec(String(objectAt(ipgate, 'environment').REDIS_URL));
    expect(new URL(url?.[1] ?? '').hostname).toBe('redis');
  });
});

describe('compose.yaml: redis', () => {
  it('is the official Redis 7 image', () => {
    expect(redis.image).toMatch(/^redis:7(-alpine)?$/);
  });

  it('keeps grants in an append-only file on a named volume', () => {
    expect(redis.command).toEqual(['redis-server', '--appendonly', 'yes']);
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(objectAt(compose, 'volumes')).toHaveProperty('redis-data');
  });

  it('is healthy only when redis-cli ping gets PONG', () => {
    expect(objectAt(redis, 'healthcheck').test).toEqual([
      'CMD-SHELL',
      'redis-cli ping | grep -q PONG',
    ]);
    expect(redis.restart).toBe('unless-stopped');
    expect(redis).not.toHaveProperty('ports');
  });
});

describe('compose.yaml: the demo profile', () => {
  const traefik = objectAt(services, 'traefik');
  const whoami = objectAt(services, 'whoami');

  it('adds Traefik v3 and whoami only with --profile demo', () => {
    expect(traefik.profiles).toEqual(['demo']);
    expect(whoami.profiles).toEqual(['demo']);
    expect(traefik.image).toMatch(/^traefik:v3(\.|$)/);
    expect(whoami.image).toMatch(/^traefik\/whoami(:|$)/);
  });

  it("sets the entryPoint's forwardedHeaders.trustedIPs", () => {
    const flags = traefik.command as string[];
    expect(flags).toContain('--entryPoints.web.address=:80');
    expect(flags.filter((flag) => flag.startsWith('--entryPoints.web.forwardedHeaders.'))).toEqual([
      '--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32,::1/128',
    ]);
  });

  it('routes whoami through the ipgate middleware defined by labels', () => {
    const labels = labelsOf(whoami);
    expect(labels.get('traefik.enable')).toBe('true');
    expect(labels.get('traefik.http.routers.whoami.entrypoints')).toBe('web');
    expect(labels.get('traefik.http.routers.whoami.middlewares')).toBe('ipgate@docker');
    expect(labels.has('traefik.http.middlewares.ipgate.forwardauth.address')).toBe(true);
  });

  it('leaves ipgate itself out of Traefik', () => {
    expect(labelsOf(ipgate).size).toBe(0);
  });
});

describe('traefik/traefik.yml (static configuration)', () => {
  const staticConfig = loadYaml('traefik/traefik.yml');
  const entryPoints = Object.entries(objectAt(staticConfig, 'entryPoints'));

  it.each(entryPoints)('entryPoint %s trusts forwarded headers from listed peers only', (_, ep) => {
    const forwarded = objectAt(ep, 'forwardedHeaders');
    expect(forwarded.trustedIPs).toEqual(expect.arrayContaining([expect.any(String)]));
    expect(forwarded).not.toHaveProperty('insecure');
  });

  it('reads dynamic configuration from a watched directory, not a single file', () => {
    expect(objectAt(staticConfig, 'providers', 'file')).toEqual({
      directory: '/etc/traefik/dynamic',
      watch: true,
    });
  });
});

describe('traefik/dynamic/ipgate.yml', () => {
  const dynamic = loadYaml('traefik/dynamic/ipgate.yml');
  const routers = objectAt(dynamic, 'http', 'routers');

  it('puts the example app behind the ipgate middleware', () => {
    expect(objectAt(routers, 'app').middlewares).toEqual(['ipgate']);
  });

  it('keeps Authentik outside the gate', () => {
    expect(objectAt(routers, 'authentik')).not.toHaveProperty('middlewares');
  });

  it('holds no Go template braces, since Traefik reads the file as a template', () => {
    expect(readRepoFile('traefik/dynamic/ipgate.yml')).not.toContain('{{');
  });
});

describe('traefik/docker-labels.yml', () => {
  const fragment = objectAt(loadYaml('traefik/docker-labels.yml'), 'services');

  it('routes the example app through ipgate@docker and Authentik around it', () => {
    const app = labelsOf(objectAt(fragment, 'app'));
    const authentik = labelsOf(objectAt(fragment, 'authentik-server'));
    expect(app.get('traefik.http.routers.app.middlewares')).toBe('ipgate@docker');
    expect([...authentik.keys()].filter((key) => key.endsWith('.middlewares'))).toEqual([]);
  });
});
