import type { IncomingHttpHeaders } from 'node:http';
import { type Answer, contentLength } from './answer.js';

/** Query parameter of the login link that carries the page the person asked for. */
export const RETURN_PARAMETER = 'next';

/** True when the client said it takes HTML (a browser); curl and API clients do not. */
export function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/i.test(accept);
}

/**
 * The 403 page a browser gets: the address is not allowed yet, which address, and a link
 * to the configured login URL with the original URL as `next`. The link always points at
 * the login URL; the original URL is only a parameter value, so nothing here redirects
 * anywhere else. Every value placed in the page is escaped.
 */
export function denyPage(address: string, loginUrl: URL, headers: IncomingHttpHeaders): Answer {
  const link = new URL(loginUrl.href);
  const original = originalUrl(headers);
  if (original !== undefined) link.searchParams.set(RETURN_PARAMETER, original);

  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to continue</title>
<style>body{font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
a{font-weight:bold}code{font-size:1.05em}</style>
</head>
<body>
<main>
<h1>Sign in to continue</h1>
<p>Your address <code id="address">${escapeHtml(address)}</code> is not allowed yet.</p>
<p><a id="login" href="${escapeHtml(link.href)}">Sign in</a>, then come back to this page.</p>
</main>
</body>
</html>
`;
  const answerHeaders = {
    'Cache-Control': 'no-store',
    'Content-Type': 'text/html; charset=UTF-8',
    'Content-Length': contentLength(body),
    'X-Ipgate-Reason': 'no-grant',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
    'Referrer-Policy': 'no-referrer',
  };
  return { status: 403, headers: answerHeaders, body };
}

const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The URL the person asked for, from the proxy's X-Forwarded-Proto, -Host and -Uri, or
 * undefined when any of them is missing or not what a proxy would send: http(s) only, a
 * plain host name or address, a path starting with `/` without spaces or control bytes.
 */
export function originalUrl(headers: IncomingHttpHeaders): string | undefined {
  const proto = single(headers['x-forwarded-proto'])?.toLowerCase();
  const host = single(headers['x-forwarded-host']);
  const uri = single(headers['x-forwarded-uri']) ?? '/';
  if (proto !== 'http' && proto !== 'https') return undefined;
  if (host === undefined || host.length > 255 || !HOST.test(host)) return undefined;
  if (uri.length > 2048 || !/^\/(?!\/)[\x21-\x7e]*$/.test(uri)) return undefined;

  try {
    return new URL(`${proto}://${host}${uri}`).href;
  } catch {
    return undefined;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.split(',')[0]?.trim();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
