import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { App } from './app.js';
import { isVerifyTarget } from './verify.js';

/**
 * How long an idle keep-alive connection stays open, in ms. Above the idle timeouts of
 * the proxies that call ipgate (Go's 90 s in Traefik, Caddy's 2 min), so ipgate never
 * closes a connection a proxy is about to reuse, which Traefik would report as a 500.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 125_000;

/** Longest time a client may take to send request headers, and a whole request, in ms. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * How often Node looks for connections past those timeouts, in ms. Node's default (30 s)
 * would let a client that trickles its headers hold a connection for up to 40 s.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/**
 * Largest request head (request line and headers), in bytes; larger ones get 431.
 * Traefik and Caddy forward the client's own headers, cookies included, so this matches
 * nginx's default for a whole head (4 buffers of 8 KiB) rather than Node's 16 KiB.
 */
export const MAX_HEADER_BYTES = 32 * 1024;

/**
 * Most header lines in one request; more get 431. Node itself would silently drop the
 * lines past its own limit, and a dropped `X-Forwarded-For` line changes who the client
 * is, so a request that has too many is refused whole.
 */
export const MAX_HEADER_COUNT = 200;

/** Limits a test may shorten; production always uses the defaults above. */
export interface ServerLimits {
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/**
 * An HTTP server for the app, not yet listening, with the limits above. `/verify` goes to
 * its own listener, every other request to the Hono app through @hono/node-server.
 */
export function createServer(app: App, limits: ServerLimits = {}): Server {
  const hono = getRequestListener(app.hono.fetch);
  const options = {
    maxHeaderSize: MAX_HEADER_BYTES,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
  const server = createHttpServer(options, function route(request, response) {
    if (request.rawHeaders.length / 2 > MAX_HEADER_COUNT) refuseTooManyHeaders(response);
    else if (isVerifyTarget(request.url)) app.verify(request, response);
    else void hono(request, response);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = limits.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  server.requestTimeout = limits.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // One more than allowed, so that a request past the limit can be told apart.
  server.maxHeadersCount = MAX_HEADER_COUNT + 1;
  return server;
}

function refuseTooManyHeaders(response: ServerResponse): void {
  response.writeHead(431, {
    'Cache-Control': 'no-store',
    'Content-Type': 'text/plain; charset=UTF-8',
    Connection: 'close',
  });
  response.end('Request Header Fields Too Large\n');
}
