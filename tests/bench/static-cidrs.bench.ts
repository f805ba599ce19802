import { bench, describe } from 'vitest';
import type { Cidr } from '../../src/cidr.js';
import { parseCidr } from '../../src/cidr.js';
import { CidrSet } from '../../src/cidr-set.js';
import { type IpAddress, parseIpAddress } from '../../src/ip-address.js';

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

/** Half IPv4 networks (/8 to /32), half IPv6 networks (/16 to /128). */
function mixedCidrs(count: number, next: () => number): Cidr[] {
  const cidrs: Cidr[] = [];
  while (cidrs.length < count) {
    const text =
      cidrs.length % 2 === 0
        ? `${[0, 0, 0, 0].map(() => Math.floor(next() * 256)).join('.')}/${8 + Math.floor(next() * 25)}`
        : `${Array.from({ length: 8 }, () => hex(next)).join(':')}/${16 + Math.floor(next() * 113)}`;
    const cidr = parseCidr(text);
    if (cidr !== undefined) cidrs.push(cidr);
  }
  return cidrs;
}

function mixedAddresses(count: number, next: () => number): IpAddress[] {
  return Array.from({ length: count }, (_, index) => {
    const text =
      index % 2 === 0
        ? [0, 0, 0, 0].map(() => Math.floor(next() * 256)).join('.')
        : Array.from({ length: 8 }, () => hex(next)).join(':');
    const address = parseIpAddress(text);
    if (address === undefined) throw new Error(`generated a bad address: ${text}`);
    return address;
  });
}

const next = random(42);
const addresses = mixedAddresses(4096, next);
const sets = {
  10: new CidrSet(mixedCidrs(10, next)),
  100000: new CidrSet(mixedCidrs(100_000, next)),
};

describe('CidrSet.contains, mixed IPv4/IPv6 lookups (4096 per iteration)', () => {
  for (const [size, set] of Object.entries(sets)) {
    bench(`${size} CIDRs`, () => {
      let hits = 0;
      for (const address of addresses) if (set.contains(address)) hits++;
      if (hits < 0) throw new Error('unreachable');
    });
  }
});
