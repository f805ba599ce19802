import { writeFile } from 'node:fs/promises';
import { explanation } from './explanation.js';
import type { PairResult } from './pairs.js';
import { spread } from './replicas.js';
import type { BenchResults } from './run.js';

/** One line of the results table. */
interface Row {
  readonly target: string;
  readonly measured: string;
  readonly baseline: string;
  readonly value: string;
  readonly goal: string;
  readonly pass: boolean;
}

const MB = 1_000_000;

function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

// The lowest and highest of the rounds' ratios, after the median they surround.
function roundRange(ratios: readonly number[]): string {
  return `(rounds ${fixed(Math.min(...ratios))}–${fixed(Math.max(...ratios))})`;
}

function pairRows(result: PairResult): Row[] {
  const { pair, a, b } = result;
  const rows: Row[] = [
    {
      target: `${pair.name}: throughput`,
      measured: `${Math.round(a.requestsPerSecond)} req/s`,
      baseline: `${Math.round(b.requestsPerSecond)} req/s (${pair.b.label})`,
      value: `${fixed(result.throughputRatio)}x ${roundRange(result.throughputRatios)}`,
      goal: pair.minThroughput === undefined ? '(no target)' : `≥ ${pair.minThroughput}x`,
      pass: pair.minThroughput === undefined || result.throughputRatio >= pair.minThroughput,
    },
  ];
  rows.push({
    target: `${pair.name}: p99 latency`,
    measured: `${fixed(a.p99Ms)} ms`,
    baseline: `${fixed(b.p99Ms)} ms`,
    value: `${fixed(result.p99Ratio)}x ${roundRange(result.p99Ratios)}`,
    goal: pair.maxP99 === undefined ? '(no target)' : `≤ ${pair.maxP99}x`,
    pass: pair.maxP99 === undefined || result.p99Ratio <= pair.maxP99,
  });
  return rows;
}

function rows(results: BenchResults): Row[] {
  const all = results.pairs.flatMap(pairRows);
  const { cidr, propagation, clients, grants } = results;
  if (cidr !== undefined) {
    all.push({
      target: `CidrSet lookup, ${cidr.largeSize.toLocaleString('en')} CIDRs (median)`,
      measured: `${fixed(cidr.largeNs, 1)} ns`,
      baseline: `${fixed(cidr.smallNs, 1)} ns (${cidr.smallSize} CIDRs)`,
      value: `${fixed(cidr.largeNs / cidr.smallNs)}x`,
      goal: '≤ 1000 ns and ≤ 3x',
      pass: cidr.largeNs <= 1000 && cidr.largeNs / cidr.smallNs <= 3,
    });
  }
  for (const [mode, result] of Object.entries(propagation)) {
    if (result === undefined) continue;
    const label = mode === 'auto' ? 'keyspace events on' : 'REDIS_KEYSPACE_EVENTS=off';
    const login = spread(result.loginMs);
    const revoke = spread(result.revokeMs);
    const expiry = spread(result.expiryMs);
    all.push(
      {
        target: `login on one replica → other allows (${label})`,
        measured: `p99 ${fixed(login.p99, 1)} ms`,
        baseline: `p50 ${fixed(login.p50, 1)} ms, ${result.loginMs.length} trials`,
        value: `max ${fixed(login.max, 1)} ms`,
        goal: 'p99 ≤ 50 ms',
        pass: login.p99 <= 50,
      },
      {
        target: `redis-cli DEL → both deny (${label})`,
        measured: `max ${fixed(revoke.max, 1)} ms`,
        baseline: `p50 ${fixed(revoke.p50, 1)} ms, ${result.revokeMs.length} trials`,
        value: `max ${fixed(revoke.max, 1)} ms`,
        goal: '≤ 1000 ms',
        pass: revoke.max <= 1000,
      },
      {
        target: `grant TTL ends → both deny (${label})`,
        measured: `max ${fixed(expiry.max, 1)} ms`,
        baseline: `p50 ${fixed(expiry.p50, 1)} ms, ${result.expiryMs.length} trials`,
        value: `max ${fixed(expiry.max, 1)} ms`,
        goal: '≤ 1000 ms',
        pass: expiry.max <= 1000,
      },
    );
  }
  if (clients !== undefined) {
    all.push({
      target: `ipgate RSS after ${clients.clients.toLocaleString('en')} distinct client IPs`,
      measured: `${fixed(clients.rssAfter / MB, 1)} MB`,
      baseline: `${fixed(clients.rssBefore / MB, 1)} MB at start`,
      value: `peak ${fixed(clients.peak / MB, 1)} MB`,
      goal: '< 150 MB',
      pass: clients.rssAfter < 150 * MB && clients.clients >= results.options.distinctClients,
    });
  }
  if (grants !== undefined) {
    all.push({
      target: `Redis MEMORY USAGE per grant (${grants.ipv4Grants.toLocaleString('en')} IPv4)`,
      measured: `${fixed(grants.ipv4Bytes, 1)} B`,
      baseline: `${fixed(grants.ipv6Bytes, 1)} B per IPv6 /64 grant`,
      value: `${fixed(grants.ipv4Bytes, 1)} B`,
      goal: '≤ 200 B',
      pass: grants.ipv4Bytes <= 200,
    });
  }
  return all;
}

/** The results as a Markdown table. */
export function resultsTable(results: BenchResults): string {
  const lines = [
    '| Target | ipgate | Baseline or detail | Ratio or value | Goal | |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows(results)) {
    const mark = row.pass ? 'pass' : '**FAIL**';
    lines.push(
      `| ${row.target} | ${row.measured} | ${row.baseline} | ${row.value} | ${row.goal} | ${mark} |`,
    );
  }
  return lines.join('\n');
}

/** Each pair's rounds, so a reader can see the spread behind the medians. */
export function roundsTable(results: BenchResults): string {
  const lines = [
    '| Pair | Round | ipgate req/s | Baseline req/s | Ratio | ipgate p99 | Baseline p99 | Ratio |',
  ];
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const result of results.pairs) {
    result.runs.forEach(({ a, b }, index) => {
      const throughput = fixed(result.throughputRatios[index] ?? Number.NaN);
      const p99 = fixed(result.p99Ratios[index] ?? Number.NaN);
      lines.push(
        `| ${result.pair.name} | ${index + 1} | ${Math.round(a.requestsPerSecond)} | ${Math.round(b.requestsPerSecond)} | ${throughput}x | ${fixed(a.p99Ms)} ms | ${fixed(b.p99Ms)} ms | ${p99}x |`,
      );
    });
  }
  return lines.join('\n');
}

/** Prints the table and a pass/fail count to standard output. */
export function printReport(results: BenchResults): void {
  const all = rows(results);
  const failed = all.filter((row) => !row.pass);
  process.stdout.write(`\n\n${resultsTable(results)}\n\n`);
  process.stdout.write(
    `${all.length - failed.length} of ${all.length} targets met in ${Math.round(results.elapsedSeconds)} s` +
      ` (load average ${fixed(results.machine.loadBefore)} before, ${fixed(results.machine.loadAfter)} after)\n`,
  );
}

/** Writes docs/performance.md: machine, command, results, rounds and the explanation. */
export async function writeReport(results: BenchResults, path: string): Promise<void> {
  await writeFile(path, explanation(results, resultsTable(results), roundsTable(results)));
}
