import { type Cidr, parseCidr } from '../../src/cidr.js';
import { CidrSet } from '../../src/cidr-set.js';
import { type IpAddress, parseIpAddress } from '../../src/ip-address.js';
import { median } from './stats.js';

/** Median cost of one `CidrSet.contains`, in ns, for a small and a large set. */
export interface CidrLookupResult {
  readonly smallSize: number;
  readonly largeSize: number;
  readonly smallNs: number;
  readonly largeNs: number;
  readonly buildMs: number;
}

// A deterministic generator (mulberry32), so every run measures the same sets.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function hex(next: () => number): string {
  return Math.floor(next() * 0x10000).toString(16);
}

function ipv4(next: () => number): string {
  return [0, 0, 0, 0].map(() => Math.floor(next() * 256)).join('.');
}

function ipv6(next: () => number): string {
  return Array.from({ length: 8 }, () => hex(next)).join(':');
}

/** Half IPv4 networks (/8 to /32), half IPv6 networks (/16 to /128). */
export function mixedCidrs(count: number, next: () => number): Cidr[] {
  const cidrs: Cidr[] = [];
  while (cidrs.length < count) {
    const text =
      cidrs.length % 2 === 0
        ? `${ipv4(next)}/${8 + Math.floor(next() * 25)}`
        : `${ipv6(next)}/${16 + Math.floor(next() * 113)}`;
    const cidr = parseCidr(text);
    if (cidr !== undefined) cidrs.push(cidr);
  }
  return cidrs;
}

function mixedAddresses(count: number, next: () => number): IpAddress[] {
  return Array.from({ length: count }, (_, index) => {
    const text = index % 2 === 0 ? ipv4(next) : ipv6(next);
    const address = parseIpAddress(text);
    if (address === undefined) throw new Error(`generated a bad address: ${text}`);
    return address;
  });
}

// One sample: the mean cost of a lookup over every address, in ns.
function sample(set: CidrSet, addresses: readonly IpAddress[], passes: number): number {
  let hits = 0;
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < passes; pass++) {
    for (const address of addresses) if (set.contains(address)) hits++;
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  if (hits < 0) throw new Error('unreachable');
  return elapsed / (passes * addresses.length);
}

/**
 * Looks up the same 4096 mixed addresses in a set of 10 and one of `largeSize` CIDRs,
 * alternating between the two for `samples` rounds after a warm-up, and takes medians.
 */
export function measureCidrLookups(largeSize: number, samples: number): CidrLookupResult {
  const next = random(42);
  const addresses = mixedAddresses(4096, next);
  const small = new CidrSet(mixedCidrs(10, next));
  const largeCidrs = mixedCidrs(largeSize, next);
  const built = performance.now();
  const large = new CidrSet(largeCidrs);
  const buildMs = performance.now() - built;

  for (let round = 0; round < 20; round++) {
    sample(small, addresses, 10);
    sample(large, addresses, 10);
  }
  const smallNs: number[] = [];
  const largeNs: number[] = [];
  for (let round = 0; round < samples; round++) {
    smallNs.push(sample(small, addresses, 50));
    largeNs.push(sample(large, addresses, 50));
  }
  return {
    smallSize: small.size,
    largeSize: large.size,
    smallNs: median(smallNs),
    largeNs: median(largeNs),
    buildMs,
  };
}
