import {
  Counter,
  type Counter as CounterType,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';

/** Why `/verify` answered as it did: the `reason` label of `ipgate_decisions_total`. */
export const DECISION_REASONS = {
  allow: ['static', 'grant'],
  deny: ['no-grant', 'untrusted-peer', 'no-forwarded-for', 'bad-forwarded-for', 'too-many-hops'],
  unavailable: ['store-unavailable'],
} as const;

/** How a webhook call ended: the `outcome` label of `ipgate_webhooks_total`. */
export const WEBHOOK_OUTCOMES = [
  'granted',
  'kept',
  'ignored',
  'unauthorized',
  'invalid_json',
  'invalid_payload',
  'payload_too_large',
  'disabled',
  'store_unavailable',
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** Who changed a grant: the webhook, the admin API, or the CLI (counted by its own process). */
export type GrantSource = 'webhook' | 'admin' | 'cli';

/** Decision latency buckets, in seconds: from 25 µs (cached) to 250 ms (past the Redis bound). */
const LATENCY_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

type Child = { inc(value?: number): void };
type Observer = { observe(value: number): void };

/**
 * ipgate's Prometheus series, in a registry of their own. Every label set is bound once
 * here, so counting a decision is a property read and an add: `/verify` stays cheap.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Decision counters by `result:reason`, such as `allow:grant`. */
  readonly #decisions = new Map<string, Child>();
  readonly #webhooks = new Map<string, Child>();
  readonly #latency: { memory: Observer; redis: Observer };
  readonly cacheHits: Child;
  readonly cacheMisses: Child;
  readonly redisErrors: Child;
  readonly #grantsWritten: CounterType<'source'>;
  readonly #grantsRevoked: CounterType<'source'>;

  constructor() {
    const registers = [this.registry];
    const decisions = new Counter({
      name: 'ipgate_decisions_total',
      help: '/verify answers, by result (allow, deny, unavailable) and reason',
      labelNames: ['result', 'reason'] as const,
      registers,
    });
    for (const [result, reasons] of Object.entries(DECISION_REASONS)) {
      for (const reason of reasons) {
        this.#decisions.set(`${result}:${reason}`, zero(decisions.labels(result, reason)));
      }
    }

    const latency = new Histogram({
      name: 'ipgate_decision_duration_seconds',
      help: 'time to decide /verify, in seconds, by source: memory (no Redis) or redis',
      labelNames: ['source'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#latency = { memory: latency.labels('memory'), redis: latency.labels('redis') };

    const webhooks = new Counter({
      name: 'ipgate_webhooks_total',
      help: 'Authentik webhook calls, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    });
    for (const outcome of WEBHOOK_OUTCOMES) {
      this.#webhooks.set(outcome, zero(webhooks.labels(outcome)));
    }

    const cache = new Counter({
      name: 'ipgate_cache_lookups_total',
      help: 'grant lookups answered from this replica’s cache (hit) or from Redis (miss)',
      labelNames: ['result'] as const,
      registers,
    });
    this.cacheHits = zero(cache.labels('hit'));
    this.cacheMisses = zero(cache.labels('miss'));

    this.redisErrors = new Counter({
      name: 'ipgate_redis_errors_total',
      help: 'Redis commands that failed or timed out, and connection errors',
      registers,
    });
    this.#grantsWritten = new Counter({
      name: 'ipgate_grants_written_total',
      help: 'grants stored or extended, by source',
      labelNames: ['source'] as const,
      registers,
    });
    this.#grantsRevoked = new Counter({
      name: 'ipgate_grants_revoked_total',
      help: 'grants revoked, by source',
      labelNames: ['source'] as const,
      registers,
    });
    for (const source of ['webhook', 'admin'] as const) {
      this.#grantsWritten.labels(source).inc(0);
      this.#grantsRevoked.labels(source).inc(0);
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one decision; `started` is `performance.now()` when the request came in. */
  decided(result: string, reason: string, started: number, fromRedis: boolean): void {
    this.#decisions.get(`${result}:${reason}`)?.inc();
    const seconds = (performance.now() - started) / 1000;
    (fromRedis ? this.#latency.redis : this.#latency.memory).observe(seconds);
  }

  webhook(outcome: WebhookOutcome): void {
    this.#webhooks.get(outcome)?.inc();
  }

  grantsWritten(source: GrantSource, count = 1): void {
    this.#grantsWritten.labels(source).inc(count);
  }

  grantsRevoked(source: GrantSource, count = 1): void {
    this.#grantsRevoked.labels(source).inc(count);
  }

  /**
   * A gauge read at scrape time, such as whether Redis is connected: `read` returns the
   * value, or one value per value of `label`.
   */
  state(name: string, help: string, read: () => number | Record<string, number>, label?: string) {
    new Gauge({
      name,
      help,
      labelNames: label === undefined ? [] : [label],
      registers: [this.registry],
      collect() {
        const values = read();
        if (typeof values === 'number' || label === undefined) this.set(Number(values));
        else for (const [key, value] of Object.entries(values)) this.set({ [label]: key }, value);
      },
    });
  }
}

// Every series exists from the start at 0, so rate() and increase() see its first event.
function zero<T extends Child>(child: T): T {
  child.inc(0);
  return child;
}
