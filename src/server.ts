import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';

/**
 * How long an idle keep-alive connection stays open, in ms. Above the idle timeouts of
 * the proxies that call ipgate (Go's 90 s in Traefik, Caddy's 2 min), so ipgate never
 * closes a connection a proxy is about to reuse, which Traefik would report as a 500.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 125_000;

/** Longest time a client may take to send request headers, and a whole request, in ms. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/** An HTTP server for the app, not yet listening. */
// biome-ignore lint/suspicious/noExplicitAny: the app's bindings type does not matter here.
export function createServer(app: Hono<any>): Server {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  return server;
}
