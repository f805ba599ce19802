import { Agent, request } from 'node:http';

/** One `/verify` request made by {@link VerifyLoad}: when it was sent, and what came back. */
export interface Sample {
  readonly ip: string;
  /** `performance.now()` when the request was sent. */
  readonly sent: number;
  readonly ms: number;
  /** The status, or the error code when no answer came. */
  readonly status: number | string;
  /** True when the request went out on a kept-alive connection used before. */
  readonly reused: boolean;
}

/**
 * A bounded concurrent loop of `/verify` requests over kept-alive loopback connections,
 * as a proxy sends them: `workers` loops, each cycling through `ips`, until `stop()`,
 * `maxMs` or `maxRequests`, whichever comes first.
 */
export class VerifyLoad {
  readonly samples: Sample[] = [];
  readonly #agent: Agent;
  readonly #done: Promise<unknown>;
  #stopped = false;

  constructor(
    url: string,
    ips: readonly string[],
    options: { workers?: number; maxMs?: number; maxRequests?: number } = {},
  ) {
    const workers = options.workers ?? 8;
    const deadline = performance.now() + (options.maxMs ?? 30_000);
    const maxRequests = options.maxRequests ?? 200_000;
    this.#agent = new Agent({ keepAlive: true, maxSockets: workers });
    const target = new URL('/verify', url);
    const worker = async (offset: number) => {
      for (let i = offset; !this.#stopped; i++) {
        if (performance.now() > deadline || this.samples.length >= maxRequests) return;
        this.samples.push(await this.#send(target, ips[i % ips.length] as string));
      }
    };
    this.#done = Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  }

  /** Stops every loop and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    this.#agent.destroy();
  }

  #send(target: URL, ip: string): Promise<Sample> {
    const sent = performance.now();
    return new Promise((resolve) => {
      const req = request(target, { agent: this.#agent, headers: { 'X-Forwarded-For': ip } });
      const finish = (status: number | string) =>
        resolve({ ip, sent, ms: performance.now() - sent, status, reused: req.reusedSocket });
      req.setTimeout(5000, () => req.destroy(Object.assign(new Error('hang'), { code: 'HANG' })));
      req.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
      });
      req.end();
    });
  }
}

/** Latency percentiles of samples, in ms, rounded to 0.1 ms. */
export function latencies(samples: readonly Sample[]): Record<string, number> {
  const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const round = (ms: number | undefined) => Math.round((ms ?? 0) * 10) / 10;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1)),
  };
}
