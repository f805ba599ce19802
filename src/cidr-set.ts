import type { Cidr } from './cidr.js';
import type { IpAddress } from './ip-address.js';

// Child slot values in a trie node: no child, or "every address below is in the set".
const EMPTY = 0;
const COVERED = -1;

/**
 * A binary trie over address bits. Two child slots per node live in one Int32Array, so a
 * lookup walks at most one node per bit (32 for IPv4, 128 for IPv6) however many networks
 * were added, and allocates nothing.
 */
class BitTrie {
  #slots = new Int32Array(64);
  #nodes = 1;
  #everything = false;

  add(words: readonly number[], length: number): void {
    if (length === 0) {
      this.#everything = true;
      return;
    }
    let node = 0;
    for (let bit = 0; bit < length; bit++) {
      const slot = node * 2 + bitAt(words, bit);
      const child = this.#slots[slot] ?? EMPTY;
      if (child === COVERED) return;
      if (bit === length - 1) {
        this.#slots[slot] = COVERED;
        return;
      }
      node = child === EMPTY ? this.#addNode(slot) : child;
    }
  }

  contains(words: readonly number[], width: number): boolean {
    if (this.#everything) return true;
    let node = 0;
    for (let bit = 0; bit < width; bit++) {
      const child = this.#slots[node * 2 + bitAt(words, bit)] ?? EMPTY;
      if (child === COVERED) return true;
      if (child === EMPTY) return false;
      node = child;
    }
    return false;
  }

  #addNode(parentSlot: number): number {
    if ((this.#nodes + 1) * 2 > this.#slots.length) {
      const grown = new Int32Array(this.#slots.length * 2);
      grown.set(this.#slots);
      this.#slots = grown;
    }
    const node = this.#nodes++;
    this.#slots[parentSlot] = node;
    return node;
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
