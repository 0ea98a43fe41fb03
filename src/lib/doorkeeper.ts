// A doorkeeper for a cache (TinyLFU's, in its simplest form): says whether a key's hash
// was seen recently, so a cache can keep only what is asked for at least twice. A
// direct-mapped table of the last hash seen in each slot: O(1), no allocation after
// construction, a fixed 4 bytes a slot. A key comes back as seen while no other key has
// taken its slot since; a false "seen" needs another key with the same 32-bit hash.

export class Doorkeeper {
  private readonly slots: Uint32Array;
  private readonly mask: number;

  /** 2^bits slots (default 2^18: 1 MiB). */
  constructor(bits = 18) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 26)
      throw new RangeError('a doorkeeper has 2^1 to 2^26 slots');
    this.slots = new Uint32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    // Slot values are hashes + 1 (0: empty), so hash 0 is never taken as seen at first.
  }

  /** Whether `hash` (an unsigned 32-bit key hash) was seen before; records it either way. */
  seenBefore(hash: number): boolean {
    const at = hash & this.mask;
    const mark = (hash + 1) >>> 0 || 1;
    if (this.slots[at] === mark) return true;
    this.slots[at] = mark;
    return false;
  }
}
