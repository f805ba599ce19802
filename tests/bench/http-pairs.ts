import { startCaddy } from '../helpers/proxies.js';
import type { BenchOptions, Section } from './options.js';
import {
  type LoadShape,
  measureRound,
  type Pair,
  type PairResult,
  type Round,
  type Side,
  summarisePair,
  warm,
} from './pairs.js';
import {
  ask,
  type BenchProcess,
  login,
  startBareApp,
  startIpgateProcess,
  stopOnFailure,
  verifyStatus,
} from './processes.js';

/** The clients of the `/verify` pairs: one with a grant, one static, one denied. */
export const CLIENTS = {
  granted: '203.0.113.7',
  static: '198.51.100.7',
  denied: '192.0.2.99',
} as const;

type Log = (message: string) => void;

/** The servers of one round, warmed, and the pairs measured on them. */
interface RoundServers {
  readonly pairs: readonly Pair[];
  stop(): Promise<void>;
}

/**
 * Measures the pairs picked by `--only` (http, caddy), in an order that turns by one each
 * round. Every round starts its own ipgate, bare Hono app, (for http) a second bare app for
 * the control pair and (for caddy) an upstream app and two Caddy servers, warms each right
 * after it starts, runs every pair once, and stops them all: how fast a Node process runs
 * differs from one process to the next, so each round's ratio comes from a new draw of both
 * sides.
 */
export async function measureHttpPairs(
  redisUrl: string,
  options: BenchOptions,
  log: Log,
): Promise<PairResult[]> {
  const wanted = (['http', 'caddy'] as const).filter((s) => options.sections.has(s));
  if (wanted.length === 0) return [];
  const shape = {
    seconds: options.seconds,
    connections: options.connections,
    rounds: options.rounds,
  };
  const warmShape = { ...shape, seconds: options.warmupSeconds };

  log(`${wanted.join(' and ')} pairs, ${shape.rounds} rounds, each with servers of its own `);
  let pairs: readonly Pair[] = [];
  const runs: Round[][] = [];
  for (let round = 0; round < shape.rounds; round++) {
    const servers = await startRoundServers(redisUrl, wanted, warmShape);
    try {
      pairs = servers.pairs;
      // The pairs take turns going first, so that none is always measured on servers
      // that have just sat idle through the warm-ups.
      for (let turn = 0; turn < pairs.length; turn++) {
        const index = (round + turn) % pairs.length;
        const pairRuns = runs[index] ?? [];
        pairRuns.push(await measureRound(pairs[index] as Pair, round, shape));
        runs[index] = pairRuns;
      }
    } finally {
      await servers.stop();
    }
    process.stdout.write('.');
  }
  return pairs.map((pair, index) => summarisePair(pair, runs[index] ?? []));
}

/** Starts and warms one round's servers; builds the pairs that compare them. */
async function startRoundServers(
  redisUrl: string,
  sections: readonly Section[],
  warmShape: LoadShape,
): Promise<RoundServers> {
  const started: { stop(): Promise<void> }[] = [];
  async function stop() {
    forget();
    for (const server of started.splice(0).reverse()) await server.stop();
  }
  const forget = stopOnFailure(stop);
  try {
    const ipgate = await startIpgateProcess('ipgate', {
      REDIS_URL: redisUrl,
      STATIC_CIDRS: '198.51.100.0/24',
    });
    started.push(ipgate);
    await login(ipgate.url, CLIENTS.granted);
    // Behind Caddy without trusted_proxies, ipgate sees Caddy's peer: the benchmark itself.
    await login(ipgate.url, '127.0.0.1');
    const verify = (client: string): Side => ({
      label: `ipgate /verify (${client})`,
      url: `${ipgate.url}/verify`,
      headers: { 'X-Forwarded-For': client },
    });
    await warm(verify(CLIENTS.granted), warmShape);

    // Every side gets the request ipgate gets, X-Forwarded-For included: the bare app
    // ignores the header, but Node still parses it.
    const bare = await startBareApp('bare Hono app');
    started.push(bare);
    const bareSide = (label: string, path: string, client: string): Side => ({
      label,
      url: `${bare.url}${path}`,
      headers: { 'X-Forwarded-For': client },
    });
    const bare200 = (client: string) => bareSide('bare Hono 200', '/verify', client);
    await warm(bare200(CLIENTS.granted), warmShape);
    await expectStatuses(ipgate, bare);

    const pairs: Pair[] = [];
    if (sections.includes('http')) {
      // The same program against itself: how far apart two sides that cost the same land.
      const copy = await startBareApp('second bare Hono app');
      started.push(copy);
      const copy200: Side = {
        label: 'second bare Hono 200',
        url: `${copy.url}/verify`,
        headers: { 'X-Forwarded-For': CLIENTS.granted },
      };
      await warm(copy200, warmShape);
      pairs.push({
        name: 'control: bare app vs a second copy',
        a: copy200,
        b: bare200(CLIENTS.granted),
      });
      pairs.push(
        {
          name: 'granted IP',
          a: verify(CLIENTS.granted),
          b: bare200(CLIENTS.granted),
          minThroughput: 0.9,
          maxP99: 1.2,
        },
        {
          name: 'static IP',
          a: verify(CLIENTS.static),
          b: bare200(CLIENTS.static),
          minThroughput: 0.9,
          maxP99: 1.2,
        },
        {
          name: 'denied IP',
          a: verify(CLIENTS.denied),
          b: bareSide('bare Hono 403', '/denied', CLIENTS.denied),
          minThroughput: 0.9,
        },
      );
    }
    if (sections.includes('caddy')) {
      pairs.push(await caddyPair(ipgate, bare, started, warmShape));
    }
    return { pairs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function caddyPair(
  ipgate: BenchProcess,
  bare: BenchProcess,
  started: { stop(): Promise<void> }[],
  warmShape: LoadShape,
): Promise<Pair> {
  const upstream = await startBareApp('upstream app');
  started.push(upstream);
  await warm({ label: 'upstream', url: `${upstream.url}/` }, warmShape);

  const gated = await startCaddy({ ipgatePort: ipgate.port, appPort: upstream.port });
  started.push(gated);
  const gatedSide: Side = { label: 'Caddy → ipgate', url: `${gated.urls[4]}/` };
  await warm(gatedSide, warmShape);

  const plain = await startCaddy({ ipgatePort: bare.port, appPort: upstream.port });
  started.push(plain);
  const plainSide: Side = { label: 'Caddy → bare 200', url: `${plain.urls[4]}/` };
  await warm(plainSide, warmShape);

  for (const side of [gatedSide, plainSide]) {
    const status = (await ask(side.url)).status;
    if (status !== 200) throw new Error(`${side.label} answered ${status}, not 200`);
  }
  return { name: 'Caddy forward_auth', a: gatedSide, b: plainSide, minThroughput: 0.95 };
}

async function expectStatuses(ipgate: BenchProcess, bare: BenchProcess): Promise<void> {
  const expected: [string, number][] = [
    [CLIENTS.granted, 200],
    [CLIENTS.static, 200],
    [CLIENTS.denied, 403],
  ];
  for (const [client, status] of expected) {
    const actual = await verifyStatus(ipgate.url, client);
    if (actual !== status)
      throw new Error(`ipgate answered ${actual} for ${client}, not ${status}`);
  }
  const denied = await ask(`${bare.url}/denied`);
  if (denied.status !== 403 || denied.headers['cache-control'] !== 'no-store') {
    throw new Error(`the bare app's denial is wrong: ${denied.status}`);
  }
}
