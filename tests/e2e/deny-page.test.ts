import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIpgate, type TestIpgate } from '../helpers/ipgate.js';
import { type EchoApp, type RunningProxy, startCaddy, startEchoApp } from '../helpers/proxies.js';
import { RedisServer } from '../helpers/redis-server.js';

// Debian's own chromium, never a downloaded browser build.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let redis: RedisServer;
let ipgate: TestIpgate;
let app: EchoApp;
let caddy: RunningProxy;
let login: { server: Server; url: string; seen: string[] };
let browser: Browser;

// Stands in for Authentik: a sign-in grants the browser's address, then sends the person
// back to the page named by `next`, as the flow does after a login.
async function startLogin(): Promise<typeof login> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://login.test');
    seen.push(url.href);
    void ipgate.redis.set('ipgate:ip:127.0.0.1', '{"user":"alice"}', 'EX', 60).then(() => {
      res.writeHead(302, { Location: url.searchParams.get('next') ?? '/' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/if/flow/login/`, seen };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  login = await startLogin();
  ipgate = await startIpgate({
    REDIS_URL: redis.url,
    // Chromium and Caddy both connect from 127.0.0.1: every X-Forwarded-For entry is
    // trusted, so the left-most, the browser's, is the client.
    TRUSTED_PROXIES: '127.0.0.1',
    DENY_LOGIN_URL: login.url,
  });
  app = await startEchoApp();
  const ipgatePort = Number(new URL(ipgate.url).port);
  caddy = await startCaddy({ ipgatePort, appPort: app.port });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
  await caddy?.stop();
  await app?.close();
  await ipgate?.close();
  login?.server.close();
  await redis?.destroy();
});

describe('the deny page in Chromium, through Caddy', () => {
  it('tells a denied person why, shows the address, and its link signs them in and back', async () => {
    const page = await browser.newPage();
    const original = `${caddy.urls[4]}/reports/2026?view=full&q=a%20b`;
    const response = await page.goto(original);

    expect(response?.status()).toBe(403);
    expect(await page.title()).toBe('Sign in to continue');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Sign in to continue',
    );
    // innerText on purpose: the text as rendered, what a person reads.
    // biome-ignore lint/performance/useDomNodeTextContent: rendered text is what is tested.
    const text = await page.locator('main').innerText();
    expect(text).toContain('Your address 127.0.0.1 is not allowed yet.');

    const link = page.getByRole('link', { name: 'Sign in' });
    const href = new URL((await link.getAttribute('href')) ?? '');
    expect(`${href.origin}${href.pathname}`).toBe(login.url);
    expect(href.searchParams.get('next')).toBe(original);

    await link.click();
    await page.waitForURL(original);
    expect(login.seen).toHaveLength(1);
    const body = JSON.parse((await page.locator('body').textContent()) ?? '') as { url: string };
    expect(body.url).toBe('/reports/2026?view=full&q=a%20b');
    await page.close();
  });
});
