import { serve } from '@hono/node-server';
import { Hono } from 'hono';

// The baseline ipgate is measured against: a Hono app on @hono/node-server that decides
// nothing. `/denied` answers like a denial (403, a short text, no-store); every other path
// answers 200 with an empty body. Run by the benchmark as its own process, by node alone:
// plain JavaScript, since a TypeScript loader such as tsx keeps hooks installed that showed
// up in the baseline's CPU profile on every request.
const app = new Hono();

app.all('/denied', (c) => c.text('Forbidden\n', 403, { 'Cache-Control': 'no-store' }));
// An empty string, as ipgate answers, so that Node sends `Content-Length: 0`. With a null
// body it sends an empty chunked body instead, and Caddy's forward_auth to it ran at about
// half the rate of forward_auth to ipgate: an unfairly slow baseline.
app.all('*', (c) => c.body('', 200));

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' });
