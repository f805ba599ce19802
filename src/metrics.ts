import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * Why `/verify` answered as it did: the `reason` label of `ipgate_decisions_total`, by
 * result. Each reason belongs to one result only, so a reason alone names both.
 */
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

/** Who changed a grant in this process: the webhook or the admin API (the CLI is its own). */
export type GrantSource = 'webhook' | 'admin';

/** Decision latency buckets, in seconds: from 25 µs (cached) to 250 ms (past the Redis bound). */
const LATENCY_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

type Labels = Readonly<Record<string, string>>;

/** One counted value: a plain number, so counting allocates nothing and hashes nothing. */
export class Count {
  value = 0;

  inc(amount = 1): void {
    this.value += amount;
  }
}

/**
 * A counter family whose children are {@link Count}s bound to their labels once. prom-client
 * only formats it at scrape time; its own counters hash the labels on every `inc`.
 */
class CounterFamily {
  readonly #children: { labels: Labels; count: Count }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  child(labels: Labels = {}): Count {
    const count = new Count();
    this.#children.push({ labels, count });
    return count;
  }

  get() {
    const values = this.#children.map(({ labels, count }) => ({ labels, value: count.value }));
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}

/** One histogram child: counts per bucket (not cumulative until scraped), sum and count. */
export class Observations {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let index = 0;
    while (index < this.bounds.length && value > (this.bounds[index] as number)) index++;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** A histogram family in the same spirit as {@link CounterFamily}. */
class HistogramFamily {
  readonly #children: { labels: Labels; observations: Observations }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {}

  child(labels: Labels): Observations {
    const observations = new Observations(this.bounds);
    this.#children.push({ labels, observations });
    return observations;
  }

  get() {
    const values: { labels: Labels; value: number; metricName: string }[] = [];
    for (const { labels, observations } of this.#children) {
      let cumulative = 0;
      observations.counts.forEach((count, index) => {
        cumulative += count;
        const le = index < this.bounds.length ? String(this.bounds[index]) : '+Inf';
        values.push({
          labels: { ...labels, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({ labels, value: observations.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: observations.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/**
 * ipgate's Prometheus series, in a registry of their own. Every label set is bound once
 * here and counting is adding to a number, so `/verify` stays as cheap as it was.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Decision counts by reason (which implies the result). */
  readonly #decisions = new Map<string, Count>();
  readonly #webhooks: Record<string, Count> = {};
  readonly #latency: { memory: Observations; redis: Observations };
  readonly cacheHits: Count;
  readonly cacheMisses: Count;
  readonly redisErrors: Count;
  readonly #grantsWritten: Record<GrantSource, Count>;
  readonly #grantsRevoked: Record<GrantSource, Count>;

  constructor() {
    const decisions = this.#family(
      'ipgate_decisions_total',
      '/verify answers, by result (allow, deny, unavailable) and reason',
    );
    for (const [result, reasons] of Object.entries(DECISION_REASONS)) {
      for (const reason of reasons)
        this.#decisions.set(reason, decisions.child({ result, reason }));
    }

    const latency = new HistogramFamily(
      'ipgate_decision_duration_seconds',
      'time to decide /verify, in seconds, by source: memory (no Redis) or redis',
      LATENCY_BUCKETS,
    );
    this.registry.registerMetric(latency as never);
    this.#latency = {
      memory: latency.child({ source: 'memory' }),
      redis: latency.child({ source: 'redis' }),
    };

    const webhooks = this.#family('ipgate_webhooks_total', 'Authentik webhook calls, by outcome');
    for (const outcome of WEBHOOK_OUTCOMES) this.#webhooks[outcome] = webhooks.child({ outcome });

    const cache = this.#family(
      'ipgate_cache_lookups_total',
      'grant lookups answered from this replica’s cache (hit) or from Redis (miss)',
    );
    this.cacheHits = cache.child({ result: 'hit' });
    this.cacheMisses = cache.child({ result: 'miss' });

    this.redisErrors = this.#family(
      'ipgate_redis_errors_total',
      'Redis commands that failed or timed out, and connection errors',
    ).child();
    const written = this.#family(
      'ipgate_grants_written_total',
      'grants stored or extended, by source',
    );
    const revoked = this.#family('ipgate_grants_revoked_total', 'grants revoked, by source');
    const sources = ['webhook', 'admin'] as const;
    this.#grantsWritten = bySource(sources, (source) => written.child({ source }));
    this.#grantsRevoked = bySource(sources, (source) => revoked.child({ source }));

    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one decision; `started` is `performance.now()` when the request came in. */
  decided(reason: string, started: number, fromRedis: boolean): void {
    this.#decisions.get(reason)?.inc();
    const seconds = (performance.now() - started) / 1000;
    (fromRedis ? this.#latency.redis : this.#latency.memory).observe(seconds);
  }

  webhook(outcome: WebhookOutcome): void {
    this.#webhooks[outcome]?.inc();
  }

  grantsWritten(source: GrantSource, count = 1): void {
    this.#grantsWritten[source].inc(count);
  }

  grantsRevoked(source: GrantSource, count = 1): void {
    this.#grantsRevoked[source].inc(count);
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

  #family(name: string, help: string): CounterFamily {
    const family = new CounterFamily(name, help);
    // prom-client formats any object with a name and get(); see its Registry.
    this.registry.registerMetric(family as never);
    return family;
  }
}

function bySource(
  sources: readonly GrantSource[],
  make: (source: GrantSource) => Count,
): Record<GrantSource, Count> {
  const counts = {} as Record<GrantSource, Count>;
  for (const source of sources) counts[source] = make(source);
  return counts;
}
