import type { Cidr } from './cidr.js';
import type { IpAddress } from './ip-address.js';

// Child slot values in a trie node: no child, or "every address below is in the set".
const EMPTY = 0;
const COVERED = -1;

// Bits resolved by the first level, which is indexed directly by the address's first word.
const TOP_BITS = 16;

/**
 * A binary trie over address bits, below a first level of 65,536 slots indexed by the
 * first 16 bits. Two child slots per node live in one Int32Array, so a lookup reads one
 * first-level slot and then walks at most one node per remaining bit (16 for IPv4, 112
 * for IPv6) however many networks were added, and allocates nothing. The first level
 * takes 256 KiB and is only allocated once a network longer than /0 is added.
 */
class BitTrie {
  #top: Int32Array | undefined;
  #slots = new Int32Array(64);
  // Node 0 is never used, so that 0 can mean "no child" in both levels.
  #nodes = 1;
  #everything = false;

  add(words: readonly number[], length: number): void {
    if (length === 0) {
      this.#everything = true;
      return;
    }
    this.#top ??= new Int32Array(1 << TOP_BITS);
    const first = words[0] ?? 0;
    if (length <= TOP_BITS) {
      // A short network covers a run of first-level slots, and everything below them.
      this.#top.fill(COVERED, first, first + (1 << (TOP_BITS - length)));
      return;
    }

    const top = this.#top[first] ?? EMPTY;
    if (top === COVERED) return;
    let node = top === EMPTY ? this.#addNode() : top;
    this.#top[first] = node;
    for (let bit = TOP_BITS; bit < length; bit++) {
      const slot = node * 2 + bitAt(words, bit);
      const child = this.#slots[slot] ?? EMPTY;
      if (child === COVERED) return;
      if (bit === length - 1) {
        this.#slots[slot] = COVERED;
        return;
      }
      if (child === EMPTY) {
        node = this.#addNode();
        this.#slots[slot] = node;
      } else {
        node = child;
      }
    }
  }

  contains(words: readonly number[], width: number): boolean {
    if (this.#everything) return true;
    if (this.#top === undefined) return false;
    let node = this.#top[words[0] ?? 0] ?? EMPTY;
    if (node === COVERED) return true;
    if (node === EMPTY) return false;

    const slots = this.#slots;
    for (let bit = TOP_BITS; bit < width; bit++) {
      const child = slots[node * 2 + bitAt(words, bit)] ?? EMPTY;
      if (child === COVERED) return true;
      if (child === EMPTY) return false;
      node = child;
    }
    return false;
  }

  #addNode(): number {
    if ((this.#nodes + 1) * 2 > this.#slots.length) {
      const grown = new Int32Array(this.#slots.length * 2);
      grown.set(this.#slots);
      this.#slots = grown;
    }
    return this.#nodes++;
  }
}

function bitAt(words: readonly number[], bit: number): number {
  return ((words[bit >> 4] ?? 0) >>> (15 - (bit & 15))) & 1;
}

/**
 * The set of addresses covered by a list of CIDRs. IPv4 and IPv6 are kept apart: an IPv4
 * client is never inside an IPv6 network such as `::/0` (IPv4-mapped clients arrive as
 * IPv4, and mapped networks are parsed as IPv4 by {@link parseCidr}).
 */
export class CidrSet {
  readonly #ipv4 = new BitTrie();
  readonly #ipv6 = new BitTrie();
  readonly size: number;

  constructor(cidrs: Iterable<Cidr>) {
    let size = 0;
    for (const { network, length } of cidrs) {
      this.#trie(network.family).add(network.words, length);
      size++;
    }
    this.size = size;
  }

  /** True when the address is inside one of the set's networks. */
  contains(address: IpAddress): boolean {
    const width = address.family === 4 ? 32 : 128;
    return this.#trie(address.family).contains(address.words, width);
  }

  #trie(family: 4 | 6): BitTrie {
    return family === 4 ? this.#ipv4 : this.#ipv6;
  }
}
