import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originalUrl, wantsHtml } from '../src/deny-page.js';
import { request } from './helpers/http.js';
import { startIpgate, type TestIpgate } from './helpers/ipgate.js';
import { RedisServer } from './helpers/redis-server.js';

const LOGIN = 'https://auth.example.com/if/flow/login/?theme=dark';

describe('originalUrl', () => {
  const forwarded = (proto: string, host: string, uri?: string) => ({
    'x-forwarded-proto': proto,
    'x-forwarded-host': host,
    ...(uri === undefined ? {} : { 'x-forwarded-uri': uri }),
  });

  it.each([
    [forwarded('https', 'app.example.com', '/a/b?c=d&e=f'), 'https://app.example.com/a/b?c=d&e=f'],
    [forwarded('HTTP', 'app.example.com:8443', '/'), 'http://app.example.com:8443/'],
    [forwarded('https', 'app.example.com'), 'https://app.example.com/'],
    [forwarded('https', '[2001:db8::1]:8443', '/x'), 'https://[2001:db8::1]:8443/x'],
    [
      forwarded('https', 'app.example.com', '/"><script>'),
      'https://app.example.com/%22%3E%3Cscript%3E',
    ],
  ])('builds the URL from %j', (headers, expected) => {
    expect(originalUrl(headers)).toBe(expected);
  });

  it.each([
    ['a javascript: scheme', forwarded('javascript', 'app.example.com', '/')],
    ['a host with a path', forwarded('https', 'evil.example/x', '/')],
    ['a host with credentials', forwarded('https', 'user@evil.example', '/')],
    ['a scheme-relative uri', forwarded('https', 'app.example.com', '//evil.example/')],
    ['a uri with a space', forwarded('https', 'app.example.com', '/a b')],
    ['a uri without a leading slash', forwarded('https', 'app.example.com', 'x')],
    ['no host', { 'x-forwarded-proto': 'https' }],
  ])('gives nothing for %s', (_name, headers) => {
    expect(originalUrl(headers)).toBeUndefined();
  });

  it('tells browsers from other clients by Accept', () => {
    expect(wantsHtml('text/html,application/xhtml+xml,*/*;q=0.8')).toBe(true);
    expect(wantsHtml('*/*')).toBe(false);
    expect(wantsHtml(undefined)).toBe(false);
  });
});

describe('the deny page over a real socket', () => {
  let redis: RedisServer;
  let ipgate: TestIpgate;

  beforeAll(async () => {
    redis = await RedisServer.start();
    ipgate = await startIpgate({
      REDIS_URL: redis.url,
      TRUSTED_PROXIES: '127.0.0.1',
      DENY_LOGIN_URL: LOGIN,
      LOG_DECISIONS: 'all',
    });
  });

  afterAll(async () => {
    await ipgate.close();
    await redis.destroy();
  });

  const browser = (extra: [string, string][] = []) =>
    request(`${ipgate.url}/verify`, {
      headers: [
        ['X-Forwarded-For', '198.51.100.7'],
        ['Accept', 'text/html,*/*;q=0.8'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'app.example.com'],
        ['X-Forwarded-Uri', '/reports?year=2026&q=<b>'],
        ...extra,
      ],
    });

  it('shows a browser the address and a link to the login URL, still 403', async () => {
    const response = await browser();
    expect(response.status).toBe(403);
    expect(response.headers['content-type']).toBe('text/html; charset=UTF-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toContain('<code id="address">198.51.100.7</code> is not allowed yet');

    const href = /<a id="login" href="([^"]*)"/.exec(response.body)?.[1] ?? '';
    const link = new URL(href.replaceAll('&#38;', '&'));
    expect(link.origin + link.pathname).toBe('https://auth.example.com/if/flow/login/');
    expect(link.searchParams.get('theme')).toBe('dark');
    expect(link.searchParams.get('next')).toBe(
      'https://app.example.com/reports?year=2026&q=%3Cb%3E',
    );
    expect(response.body).not.toContain('<b>');
  });

  it('keeps the plain-text 403 for clients that do not ask for HTML', async () => {
    const response = await request(`${ipgate.url}/verify`, {
      headers: [['X-Forwarded-For', '198.51.100.7']],
    });
    expect(response.status).toBe(403);
    expect(response.body).toBe('Forbidden: no recent sign-in from 198.51.100.7\n');
  });

  it('links to the bare login URL when the original URL is not trustworthy', async () => {
    const response = await request(`${ipgate.url}/verify`, {
      headers: [
        ['X-Forwarded-For', '198.51.100.7'],
        ['Accept', 'text/html'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'evil.example/"onmouseover="x'],
      ],
    });
    expect(response.status).toBe(403);
    expect(response.body).toContain(`href="${LOGIN.replace('&', '&#38;')}"`);
    expect(response.body).not.toContain('evil');
  });

  it('logs one info line per decision with LOG_DECISIONS=all', async () => {
    const before = ipgate.logs.withMessage('decision').length;
    await browser();
    const lines = ipgate.logs.withMessage('decision');
    expect(lines).toHaveLength(before + 1);
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      result: 'deny',
      reason: 'no-grant',
      client: '198.51.100.7',
      host: 'app.example.com',
      path: '/reports?year=2026&q=<b>',
    });
  });
});

describe('LOG_DECISIONS', () => {
  it.each([
    ['none', 0, 0],
    ['deny', 0, 1],
    ['all', 1, 1],
  ])('with %s logs %i allow and %i deny lines', async (setting, allows, denials) => {
    const redis = await RedisServer.start();
    const ipgate = await startIpgate({
      REDIS_URL: redis.url,
      TRUSTED_PROXIES: '127.0.0.1',
      STATIC_CIDRS: '192.0.2.0/24',
      LOG_DECISIONS: setting,
      LOG_LEVEL: 'info',
    });
    try {
      for (const client of ['192.0.2.1', '198.51.100.7']) {
        await request(`${ipgate.url}/verify`, { headers: [['X-Forwarded-For', client]] });
      }
      const lines = ipgate.logs.withMessage('decision');
      expect(lines.filter((line) => line.result === 'allow')).toHaveLength(allows);
      expect(lines.filter((line) => line.result === 'deny')).toHaveLength(denials);
    } finally {
      await ipgate.close();
      await redis.destroy();
    }
  });
});
