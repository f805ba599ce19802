import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TRUSTED_HOPS } from '../src/client-ip.js';
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  MAX_HEADER_COUNT,
  REQUEST_TIMEOUT_MS,
  TIMEOUT_CHECK_INTERVAL_MS,
} from '../src/server.js';
import { MAX_WEBHOOK_BYTES } from '../src/webhook.js';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, type TestIpgate, useIpgate } from './helpers/ipgate.js';

const running = useIpgate({
  WEBHOOK_SECRET: SECRET,
  STATIC_CIDRS: '192.0.2.0/24',
  LOG_LEVEL: 'info',
});

function verify(headers: [string, string][]) {
  return request(`${running.ipgate.url}/verify`, { headers });
}

/** Opens a raw connection to ipgate; resolves with everything it sent once it closes. */
async function rawConnection(url: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
  return { socket, closed };
}

describe('limits a client cannot exceed', () => {
  it('uses the documented timeouts', () => {
    expect(running.ipgate.server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
    expect(running.ipgate.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
    expect(running.ipgate.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
  });

  it('decides a request with large cookies, and answers 431 to a head over 32 KiB', async () => {
    const xff: [string, string] = ['X-Forwarded-For', '192.0.2.7'];
    const fits = await verify([xff, ['Cookie', `a=${'x'.repeat(MAX_HEADER_BYTES - 2048)}`]]);
    expect(fits.status).toBe(200);

    const tooLarge = await verify([xff, ['Cookie', `a=${'x'.repeat(MAX_HEADER_BYTES)}`]]);
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.headers['x-ipgate-reason']).toBeUndefined();
  });

  it(`decides a request with ${MAX_HEADER_COUNT} header lines, and refuses one more`, async () => {
    const padding = (count: number) =>
      Array.from({ length: count }, (_, i): [string, string] => [`X-Pad-${i}`, 'x']);
    // Node's client adds Host and Connection; X-Forwarded-For comes last, where Node
    // alone would have dropped it.
    const fits = await verify([...padding(MAX_HEADER_COUNT - 3), ['X-Forwarded-For', '192.0.2.7']]);
    expect(fits.status).toBe(200);

    const tooMany = await verify([
      ...padding(MAX_HEADER_COUNT - 2),
      ['X-Forwarded-For', '192.0.2.7'],
    ]);
    expect(tooMany.status).toBe(431);
    expect(tooMany.headers['cache-control']).toBe('no-store');
    expect(tooMany.body).toBe('Request Header Fields Too Large\n');
  });

  it('walks no more than MAX_TRUSTED_HOPS trusted entries, then denies', async () => {
    const hops = (count: number) => Array.from({ length: count }, (_, i) => `10.0.0.${i + 1}`);
    const within = await verify([
      ['X-Forwarded-For', ['192.0.2.7', ...hops(MAX_TRUSTED_HOPS)].join(', ')],
    ]);
    expect(within.status).toBe(200);

    const beyond = await verify([
      ['X-Forwarded-For', ['192.0.2.7', ...hops(MAX_TRUSTED_HOPS + 1)].join(', ')],
    ]);
    expect(beyond.status).toBe(403);
    expect(beyond.body).toBe('Forbidden: X-Forwarded-For holds too many trusted proxies\n');
  });

  it('decides a chain as long as the head allows by its rightmost entries only', async () => {
    // Entries left of the client are the client's own words: never read, however many.
    const junk = Array.from({ length: 3000 }, (_, i) => `junk-${i}`).join(',');
    const allowed = await verify([['X-Forwarded-For', `${junk}, 192.0.2.7`]]);
    expect(allowed.status).toBe(200);
    const denied = await verify([['X-Forwarded-For', `192.0.2.7,${junk}, 198.51.100.7`]]);
    expect(denied.status).toBe(403);
  });

  it('answers 413 to a webhook body over 64 KiB, declared or chunked', async () => {
    const headers: [string, string][] = [['Authorization', `Bearer ${SECRET}`]];
    const body = `{"pad":"${'x'.repeat(MAX_WEBHOOK_BYTES)}"}`;
    const declared = await request(`${running.ipgate.url}/authentik/webhook`, {
      method: 'POST',
      headers,
      body,
    });
    expect(declared.status).toBe(413);

    const { socket, closed } = await rawConnection(running.ipgate.url);
    socket.write(
      'POST /authentik/webhook HTTP/1.1\r\nHost: ipgate\r\nConnection: close\r\n' +
        `Authorization: Bearer ${SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    for (let chunk = 0; chunk < 20; chunk++) socket.write(`1000\r\n${'x'.repeat(0x1000)}\r\n`);
    socket.end('0\r\n\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('cuts off a client that trickles its headers', async () => {
    const { socket, closed } = await rawConnection(running.ipgate.url);
    const started = Date.now();
    socket.write('GET /verify HTTP/1.1\r\nHost: ipgate\r\n');
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('X-Slow: a\r\n');
    }, 500);
    try {
      const answer = await closed;
      const elapsed = Date.now() - started;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + TIMEOUT_CHECK_INTERVAL_MS + 2000);
    } finally {
      clearInterval(trickle);
    }
  }, 20_000);
});

describe('with a short request timeout', () => {
  let short: TestIpgate;

  beforeAll(async () => {
    short = await startIpgate(
      { REDIS_URL: running.redis.url, WEBHOOK_SECRET: SECRET, LOG_LEVEL: 'info' },
      { limits: { requestTimeoutMs: 1000, headersTimeoutMs: 500 } },
    );
  });

  afterAll(() => short.close());

  it('cuts off a client that trickles its body', async () => {
    const { socket, closed } = await rawConnection(short.url);
    const started = Date.now();
    socket.write(
      'POST /authentik/webhook HTTP/1.1\r\nHost: ipgate\r\n' +
        `Authorization: Bearer ${SECRET}\r\nContent-Length: 1000\r\n\r\n{`,
    );
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write(' ');
    }, 100);
    try {
      await closed;
      expect(Date.now() - started).toBeLessThan(1000 + TIMEOUT_CHECK_INTERVAL_MS + 1500);
    } finally {
      clearInterval(trickle);
    }
  });
});
