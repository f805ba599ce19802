import type { BenchOptions } from './options.js';
import { memoryOf, startIpgateProcess } from './processes.js';
import { runWrk } from './wrk.js';

/** ipgate's memory before and after `clients` distinct client IPs asked `/verify`. */
export interface ClientMemoryResult {
  readonly clients: number;
  readonly requestsPerSecond: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly peak: number;
}

const DONE_LINE = 'distinct clients sent';

/**
 * Starts a fresh ipgate with the default cache (CACHE_SIZE=100000), and sends every
 * request from a new address (tests/bench/distinct-clients.lua, half IPv4, half IPv6
 * /64s), one wrk thread, until `clients` answers or 10 minutes, whichever is first. A run
 * cut short by the time limit reports the clients it sent, and fails its target.
 */
export async function measureClientMemory(
  redisUrl: string,
  options: BenchOptions,
  log: (message: string) => void,
): Promise<ClientMemoryResult> {
  log(`ipgate memory: ${options.distinctClients} distinct client IPs ask /verify`);
  const ipgate = await startIpgateProcess('ipgate (memory)', { REDIS_URL: redisUrl });
  try {
    const before = await memoryOf(ipgate.pid);
    const result = await runWrk({
      url: `${ipgate.url}/verify`,
      seconds: 600,
      connections: options.connections,
      script: 'tests/bench/distinct-clients.lua',
      scriptArgs: [String(options.distinctClients), '1'],
      stopAfter: { line: DONE_LINE, times: 1 },
    });
    const after = await memoryOf(ipgate.pid);
    return {
      clients: result.requests,
      requestsPerSecond: result.requestsPerSecond,
      rssBefore: before.rss,
      rssAfter: after.rss,
      peak: after.peak,
    };
  } finally {
    await ipgate.stop();
  }
}
