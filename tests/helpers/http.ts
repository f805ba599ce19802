import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface HttpOptions {
  readonly method?: string;
  /** Header pairs; a name may repeat, and each pair becomes its own header line. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
  /** Local address to connect from, such as 127.0.0.2 or ::1. */
  readonly localAddress?: string;
}

/** One HTTP/1.1 request over a real socket, with full control over repeated headers. */
export function request(url: string, options: HttpOptions = {}): Promise<HttpResponse> {
  const pairs = options.headers ?? [];
  // Raw header arrays get no default Host; HTTP/1.1 requires one.
  const host = pairs.some(([name]) => name.toLowerCase() === 'host')
    ? []
    : ['Host', new URL(url).host];
  const rawHeaders = [...host, ...pairs.flat()];
  const body = options.body;
  if (body !== undefined) rawHeaders.push('Content-Length', String(Buffer.byteLength(body)));

  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: options.method ?? 'GET',
      headers: rawHeaders,
      agent: false,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.end(body);
  });
}

/** Sends `text` as written over a new connection; resolves with the first answer to it. */
export function rawRequest(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      // One answer is all a caller wants; a kept-alive connection would wait for more.
      if (answer.includes('\r\n\r\n')) setTimeout(() => socket.destroy(), 100).unref();
    });
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.write(text);
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}
