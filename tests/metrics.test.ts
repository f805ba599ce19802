import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.js';
import { request } from './helpers/http.js';
import { SECRET, startIpgate, useIpgate } from './helpers/ipgate.js';
import { scrapeMetrics } from './helpers/metrics.js';
import { RedisServer } from './helpers/redis-server.js';

const METRICS_TOKEN = 'metrics-token-0123456789';

const running = useIpgate({
  WEBHOOK_SECRET: SECRET,
  STATIC_CIDRS: '192.0.2.0/24',
  TRUSTED_PROXIES: '127.0.0.1',
});

function verify(client: string) {
  return request(`${running.ipgate.url}/verify`, { headers: [['X-Forwarded-For', client]] });
}

const scrape = (url = running.ipgate.url) => scrapeMetrics(url);

describe('GET /metrics', () => {
  it('counts decisions by result and reason, cache hits and misses, and latency', async () => {
    await running.ipgate.redis.set('ipgate:ip:198.51.100.7', '{"user":"alice"}', 'EX', 600);
    await verify('192.0.2.1');
    await verify('198.51.100.7');
    await verify('198.51.100.7');
    await verify('203.0.113.9');
    await request(`${running.ipgate.url}/verify`);

    const series = await scrape();
    expect(series.get('ipgate_decisions_total{result="allow",reason="static"}')).toBe(1);
    expect(series.get('ipgate_decisions_total{result="allow",reason="grant"}')).toBe(2);
    expect(series.get('ipgate_decisions_total{result="deny",reason="no-grant"}')).toBe(1);
    expect(series.get('ipgate_decisions_total{result="deny",reason="no-forwarded-for"}')).toBe(1);
    expect(
      series.get('ipgate_decisions_total{result="unavailable",reason="store-unavailable"}'),
    ).toBe(0);
    expect(series.get('ipgate_cache_lookups_total{result="miss"}')).toBe(2);
    expect(series.get('ipgate_cache_lookups_total{result="hit"}')).toBe(1);
    expect(series.get('ipgate_decision_duration_seconds_count{source="redis"}')).toBe(2);
    expect(series.get('ipgate_decision_duration_seconds_count{source="memory"}')).toBe(3);
    expect(series.get('ipgate_redis_connected{connection="commands"}')).toBe(1);
    expect(series.get('ipgate_redis_connected{connection="events"}')).toBe(1);
    expect(series.get('ipgate_cache_live')).toBe(1);
    expect(series.get('ipgate_cache_entries')).toBe(2);
    expect(series.has('process_cpu_seconds_total')).toBe(true);
    expect(series.has('nodejs_heap_size_used_bytes')).toBe(true);
  });

  it('counts webhooks by outcome and grants written', async () => {
    const post = (headers: [string, string][], body: string) =>
      request(`${running.ipgate.url}/authentik/webhook`, { method: 'POST', headers, body });
    const auth: [string, string] = ['Authorization', `Bearer ${SECRET}`];
    await post(
      [auth],
      JSON.stringify({ client_ip: '198.51.100.20', username: 'bob', action: 'login' }),
    );
    await post([auth], '{');
    await post([], '{}');

    const series = await scrape();
    expect(series.get('ipgate_webhooks_total{outcome="granted"}')).toBe(1);
    expect(series.get('ipgate_webhooks_total{outcome="invalid_json"}')).toBe(1);
    expect(series.get('ipgate_webhooks_total{outcome="unauthorized"}')).toBe(1);
    expect(series.get('ipgate_grants_written_total{source="webhook"}')).toBe(1);
  });

  it('asks for METRICS_TOKEN when one is set', async () => {
    const guarded = await startIpgate({ REDIS_URL: running.redis.url, METRICS_TOKEN });
    try {
      expect((await request(`${guarded.url}/metrics`)).status).toBe(401);
      const response = await request(`${guarded.url}/metrics`, {
        headers: [['Authorization', `Bearer ${METRICS_TOKEN}`]],
      });
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(response.body).toContain('ipgate_decisions_total');
    } finally {
      await guarded.close();
    }
  });

  it('counts Redis errors and reports the connection down while Redis is stopped', async () => {
    const own = await RedisServer.start();
    const gate = await startIpgate({ REDIS_URL: own.url, TRUSTED_PROXIES: '127.0.0.1' });
    try {
      await own.stop();
      const response = await request(`${gate.url}/verify`, {
        headers: [['X-Forwarded-For', '198.51.100.30']],
      });
      expect(response.status).toBe(503);
      const series = await scrape(gate.url);
      expect(series.get('ipgate_redis_connected{connection="commands"}')).toBe(0);
      expect(series.get('ipgate_redis_errors_total')).toBeGreaterThanOrEqual(1);
      expect(
        series.get('ipgate_decisions_total{result="unavailable",reason="store-unavailable"}'),
      ).toBe(1);
    } finally {
      await gate.close();
      await own.destroy();
    }
  });
});

describe('Metrics', () => {
  it('writes histogram buckets cumulatively, with +Inf, sum and count', async () => {
    const metrics = new Metrics();
    const started = performance.now();
    metrics.decided('grant', started - 0.03, false);
    metrics.decided('grant', started - 200, false);
    metrics.decided('grant', started - 900, false);
    const text = await metrics.registry.metrics();
    const line = (le: string) => {
      const prefix = `ipgate_decision_duration_seconds_bucket{source="memory",le="${le}"} `;
      return text
        .split('\n')
        .find((entry) => entry.startsWith(prefix))
        ?.slice(prefix.length);
    };
    expect(line('0.000025')).toBe('0');
    expect(line('0.00005')).toBe('1');
    expect(line('0.1')).toBe('1');
    expect(line('0.25')).toBe('2');
    expect(line('+Inf')).toBe('3');
    expect(text).toMatch(/^ipgate_decision_duration_seconds_count\{source="memory"\} 3$/m);
    expect(text).toMatch(/^ipgate_decision_duration_seconds_sum\{source="memory"\} 1\.1\d*$/m);
    expect(text).toMatch(/^ipgate_decisions_total\{result="allow",reason="grant"\} 3$/m);
  });
});
