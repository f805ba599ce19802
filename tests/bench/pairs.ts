import { median } from './stats.js';
import { runWrk, type WrkResult } from './wrk.js';

/** One side of a comparison: a URL and the headers wrk sends to it. */
export interface Side {
  readonly label: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** ipgate's side (`a`) against its baseline (`b`), with the targets it must meet. */
export interface Pair {
  readonly name: string;
  readonly a: Side;
  readonly b: Side;
  /** Least throughput of a as a fraction of b's; undefined when there is no target. */
  readonly minThroughput?: number;
  /** Most p99 latency of a as a multiple of b's; undefined when there is no target. */
  readonly maxP99?: number;
}

/** How each wrk run loads its server. */
export interface LoadShape {
  readonly seconds: number;
  readonly connections: number;
  readonly rounds: number;
}

/** One round of one pair: a run of each side, back to back. */
export interface Round {
  readonly a: WrkResult;
  readonly b: WrkResult;
}

/** Medians over the rounds of one pair, and each round's ratios a/b with their medians. */
export interface PairResult {
  readonly pair: Pair;
  readonly a: Summary;
  readonly b: Summary;
  readonly throughputRatio: number;
  readonly p99Ratio: number;
  readonly runs: readonly Round[];
  /** a/b of each round, in the order of `runs`. */
  readonly throughputRatios: readonly number[];
  readonly p99Ratios: readonly number[];
}

interface Summary {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Loads one side once for `seconds`, as every server is warmed right after it starts. */
export async function warm(side: Side, shape: LoadShape): Promise<void> {
  await runWrk({ ...side, seconds: shape.seconds, connections: shape.connections });
}

/**
 * Seconds of the same load each side gets just before its measured run, unmeasured. A
 * server that sat idle while the others were measured answers its first burst slower
 * (V8 shrinks an idle heap, and the first scavenges of the next burst are longer), which
 * would count against whichever side happens to wait longest.
 */
export const PRIME_SECONDS = 2;

/**
 * Runs both sides of a pair back to back with the same wrk settings, each right after a
 * short unmeasured priming run: a then b in even rounds (counting from 0), b then a in
 * odd ones, so that neither side always follows the other.
 */
export async function measureRound(pair: Pair, round: number, shape: LoadShape): Promise<Round> {
  const load = { seconds: shape.seconds, connections: shape.connections };
  const run = async (side: Side) => {
    await runWrk({ ...side, ...load, seconds: PRIME_SECONDS });
    return runWrk({ ...side, ...load });
  };
  const aFirst = round % 2 === 0;
  const first = await run(aFirst ? pair.a : pair.b);
  const second = await run(aFirst ? pair.b : pair.a);
  const [a, b] = aFirst ? [first, second] : [second, first];
  for (const [side, result] of [
    [pair.a, a],
    [pair.b, b],
  ] as const) {
    if (result.errors > 0 || !(result.requests > 0)) {
      throw new Error(`${side.label}: ${result.errors} socket errors, ${result.requests} requests`);
    }
  }
  return { a, b };
}

/**
 * Sums up a pair's rounds. Each round yields ratios a/b from two runs that shared the
 * machine's state of the moment; the reported ratios are the medians of those, since on a
 * shared machine the speed drifts far more between rounds than within one.
 */
export function summarisePair(pair: Pair, runs: readonly Round[]): PairResult {
  const throughputRatios = runs.map((run) => run.a.requestsPerSecond / run.b.requestsPerSecond);
  const p99Ratios = runs.map((run) => run.a.p99Ms / run.b.p99Ms);
  return {
    pair,
    a: summarise(runs.map((run) => run.a)),
    b: summarise(runs.map((run) => run.b)),
    throughputRatio: median(throughputRatios),
    p99Ratio: median(p99Ratios),
    runs,
    throughputRatios,
    p99Ratios,
  };
}

function summarise(results: readonly WrkResult[]): Summary {
  return {
    requestsPerSecond: median(results.map((r) => r.requestsPerSecond)),
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
  };
}
