import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.js';

const docs = readFileSync('docs/observability.md', 'utf8');
const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};

// Series ipgate exposes itself; a histogram's _bucket, _sum and _count count as its name.
async function ipgateSeries(): Promise<string[]> {
  const metrics = new Metrics();
  metrics.state('ipgate_redis_connected', 'test', () => ({ commands: 1 }), 'connection');
  metrics.state('ipgate_cache_entries', 'test', () => 0);
  metrics.state('ipgate_cache_live', 'test', () => 1);
  const text = await metrics.registry.metrics();
  return [...new Set([...text.matchAll(/^# TYPE (ipgate_\w+) /gm)].map((match) => match[1] ?? ''))];
}

function namesIn(text: string): Set<string> {
  const names = [...text.matchAll(/\bipgate_[a-z_]+/g)].map((match) => match[0]);
  return new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, '')));
}

describe('docs/observability.md and the Grafana dashboard', () => {
  it('lists every ipgate series in the series table', async () => {
    for (const name of await ipgateSeries()) expect(docs, name).toContain(`| \`${name}\` |`);
  });

  it('names only series ipgate exposes', async () => {
    const known = new Set(await ipgateSeries());
    const named = new Set([...namesIn(docs), ...namesIn(JSON.stringify(dashboard))]);
    expect([...named].filter((name) => !known.has(name))).toEqual([]);
  });

  it('has a dashboard panel for every ipgate series', async () => {
    const queried = namesIn(
      dashboard.panels
        .flatMap((panel) => panel.targets)
        .map((t) => t.expr)
        .join('\n'),
    );
    expect((await ipgateSeries()).filter((name) => !queried.has(name))).toEqual([]);
  });
});
