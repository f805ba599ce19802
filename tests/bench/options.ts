import { parseArgs } from 'node:util';

/** The parts of the benchmark; `--only` picks some of them. */
export const SECTIONS = ['http', 'caddy', 'cidr', 'replicas', 'memory'] as const;
export type Section = (typeof SECTIONS)[number];

/** Settings of one benchmark run, from the command line. */
export interface BenchOptions {
  readonly sections: ReadonlySet<Section>;
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly distinctClients: number;
  readonly grants: number;
  readonly loginTrials: number;
  readonly changeTrials: number;
  readonly writeDocs: boolean;
  readonly quick: boolean;
}

export const USAGE = `npm run bench [-- options]

  --quick              smoke run (about a minute): 2 short rounds, small counts, no docs
  --only LIST          comma-separated parts: ${SECTIONS.join(', ')} (default: all)
  --rounds N           rounds, each with new servers and one run per side (default 11)
  --seconds N          length of each wrk run (default 5)
  --warmup N           seconds of load given to every server right after it starts (default 3)
  --connections N      wrk connections (default 32)
  --clients N          distinct client IPs for the RSS measurement (default 1000000)
  --grants N           grants written for the Redis memory measurement (default 100000)
  --trials N           login propagation trials (default 100)
  --no-docs            print the table only; do not write docs/performance.md
                       (only a full run, without --quick or --only, writes it)
`;

/** Reads the command line; throws with the usage text on anything unknown or out of range. */
export function parseOptions(args: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      clients: { type: 'string' },
      grants: { type: 'string' },
      trials: { type: 'string' },
      'no-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);

  const quick = values.quick;
  const count = (name: string, text: string | undefined, normal: number, small: number) => {
    if (text === undefined) return quick ? small : normal;
    const value = /^\d{1,7}$/.test(text) ? Number(text) : 0;
    if (value < 1) throw new Error(`--${name} must be a whole number from 1\n\n${USAGE}`);
    return value;
  };
  const loginTrials = count('trials', values.trials, 100, 20);
  return {
    sections: sections(values.only),
    rounds: count('rounds', values.rounds, 11, 2),
    seconds: count('seconds', values.seconds, 5, 2),
    warmupSeconds: count('warmup', values.warmup, 3, 1),
    connections: count('connections', values.connections, 32, 32),
    distinctClients: count('clients', values.clients, 1_000_000, 50_000),
    grants: count('grants', values.grants, 100_000, 10_000),
    loginTrials,
    changeTrials: Math.min(20, loginTrials),
    // docs/performance.md always holds a whole run.
    writeDocs: !quick && !values['no-docs'] && values.only === undefined,
    quick,
  };
}

function sections(only: string | undefined): ReadonlySet<Section> {
  if (only === undefined) return new Set(SECTIONS);
  const picked = only.split(',').map((part) => part.trim());
  const unknown = picked.filter((part) => !SECTIONS.includes(part as Section));
  if (unknown.length > 0) throw new Error(`unknown --only part: ${unknown.join(', ')}\n\n${USAGE}`);
  return new Set(picked as Section[]);
}
