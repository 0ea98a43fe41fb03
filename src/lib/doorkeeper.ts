// A doorkeeper for a cache (TinyLFU's): says whether a key's hash was seen recently, so a
// cache can keep only what is asked for at least twice. A Bloom filter of three bits per
// key, cleared whenever it has recorded `capacity` keys: O(1), no allocation after
// construction. A key once recorded stays seen until the next clearing, whatever other
// keys come meanwhile (a direct-mapped table of hashes let two keys sharing a slot evict
// each other for ever: ~8 % of a 20,000-key working set was then never cached). A false
// "seen" (three bits set by other keys) is about 1.6 % just before a clearing.

const PROBES = 3;

export class Doorkeeper {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private recorded = 0;

  /** 2^bits bits (default 2^21: 256 KiB); cleared after bits/10 keys (~210,000 by default). */
  constructor(bits = 21) {
    if (!Number.isInteger(bits) || bits < 6 || bits > 30)
      throw new RangeError('a doorkeeper has 2^6 to 2^30 bits');
    this.words = new Uint32Array(2 ** (bits - 5));
    this.mask = 2 ** bits - 1;
    this.capacity = Math.floor(2 ** bits / 10);
  }

  /** Whether `hash` (a 32-bit key hash) was seen since the last clearing; records it either way. */
  seenBefore(hash: number): boolean {
    // Double hashing over a murmur3-finalised hash: probes a + i·b, b odd.
    let a = hash >>> 0;
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
    a = (a ^ (a >>> 16)) >>> 0;
    const b = (a >>> 16) | (a << 16) | 1;
    let seen = true;
    for (let i = 0; i < PROBES; i++) {
      const bit = (a + Math.imul(i, b)) & this.mask;
      if (((this.words[bit >>> 5] as number) & (1 << (bit & 31))) === 0) seen = false;
    }
    if (seen) return true;
    if (++this.recorded > this.capacity) {
      this.words.fill(0);
      this.recorded = 1;
    }
    for (let i = 0; i < PROBES; i++) {
      const bit = (a + Math.imul(i, b)) & this.mask;
      this.words[bit >>> 5] = (this.words[bit >>> 5] as number) | (1 << (bit & 31));
    }
    return false;
  }
}
