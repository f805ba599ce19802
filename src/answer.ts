import type { ServerResponse } from 'node:http';

/** A whole answer from `/verify`: status, headers (Content-Length included) and body. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * A body's Content-Length, in bytes. Every answer sends one: Node would otherwise send
 * an empty body chunked, which costs proxies a second read per answer. Each answer's
 * headers are written out as one object literal: objects built by spreading another
 * were moved to V8's old generation early, and the collections that followed stalled
 * `/verify` for milliseconds at a time.
 */
export function contentLength(body: string): string {
  return String(Buffer.byteLength(body));
}

/** Writes an answer in one go; a HEAD request gets the same headers without the body. */
export function sendAnswer(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}
