import { Redis } from 'ioredis';
import { RedisServer } from '../helpers/redis-server.js';
import { runCommand } from '../helpers/run-command.js';
import { type CidrLookupResult, measureCidrLookups } from './cidr-lookup.js';
import { type ClientMemoryResult, measureClientMemory } from './client-memory.js';
import { type GrantMemoryResult, measureGrantMemory } from './grant-memory.js';
import { measureHttpPairs } from './http-pairs.js';
import { describeMachine, type Machine } from './machine.js';
import { type BenchOptions, parseOptions } from './options.js';
import type { PairResult } from './pairs.js';
import { stopEverything, stopOnFailure } from './processes.js';
import { measureReplicas } from './replica-pairs.js';
import type { PropagationResult } from './replicas.js';
import { printReport, writeReport } from './report.js';

/** Everything one run measured; a part left out with `--only` is undefined. */
export interface BenchResults {
  readonly options: BenchOptions;
  readonly command: string;
  readonly machine: Machine;
  readonly pairs: readonly PairResult[];
  readonly cidr: CidrLookupResult | undefined;
  readonly propagation: { readonly auto?: PropagationResult; readonly off?: PropagationResult };
  readonly clients: ClientMemoryResult | undefined;
  readonly grants: GrantMemoryResult | undefined;
  readonly elapsedSeconds: number;
}

async function main(args: readonly string[]): Promise<void> {
  const started = performance.now();
  const options = parseOptions(args);
  const command = ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');

  log('building ipgate (npm run build)');
  const build = await runCommand('npm', ['run', 'build'], { timeoutMs: 120_000 });
  if (build.code !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  const machine = await describeMachine();

  const cidr = options.sections.has('cidr') ? cidrSection() : undefined;
  const redis = await RedisServer.start();
  const forget = stopOnFailure(() => redis.destroy());
  try {
    const pairs = await measureHttpPairs(redis.url, options, log);
    const propagation = options.sections.has('replicas')
      ? await measureReplicas(redis, options, log)
      : {};
    const clients = options.sections.has('memory')
      ? await measureClientMemory(redis.url, options, log)
      : undefined;
    const grants = options.sections.has('memory') ? await grantSection(options) : undefined;

    const results: BenchResults = {
      options,
      command,
      machine: { ...machine, loadAfter: (await describeMachine()).loadBefore },
      pairs,
      cidr,
      propagation,
      clients,
      grants,
      elapsedSeconds: (performance.now() - started) / 1000,
    };
    printReport(results);
    if (options.writeDocs) {
      await writeReport(results, 'docs/performance.md');
      log('wrote docs/performance.md');
    }
  } finally {
    forget();
    await redis.destroy();
  }
}

function cidrSection(): CidrLookupResult {
  log('CidrSet lookups: 10 and 100,000 mixed IPv4/IPv6 CIDRs');
  return measureCidrLookups(100_000, 15);
}

// A Redis of its own, so that nothing else written during the run is counted.
async function grantSection(options: BenchOptions): Promise<GrantMemoryResult> {
  log(`Redis memory: ${options.grants} IPv4 grants, ${Math.ceil(options.grants / 10)} IPv6`);
  const server = await RedisServer.start();
  const forget = stopOnFailure(() => server.destroy());
  const client = new Redis(server.url);
  try {
    return await measureGrantMemory(client, options.grants, Math.ceil(options.grants / 10));
  } finally {
    client.disconnect();
    forget();
    await server.destroy();
  }
}

export type Log = (message: string) => void;

function log(message: string): void {
  process.stdout.write(`\n[${new Date().toISOString().slice(11, 19)}] ${message} `);
}

function fail(error: unknown): void {
  console.error('\n', error);
  stopEverything().finally(() => process.exit(1));
}

process.on('unhandledRejection', fail);
process.on('SIGINT', () => fail(new Error('interrupted')));
main(process.argv.slice(2)).then(() => process.exit(0), fail);
