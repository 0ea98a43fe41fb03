// A bounded cache of encoded answers that admits by use, so a flood of names asked once
// (a random-subdomain attack) cannot evict the answers real resolvers keep asking for.
// Positive answers live in a segmented LRU (a probation segment for entries seen once, a
// protected one for entries hit again); negative answers (NXDOMAIN, NODATA) live in a
// space of their own, so a random-name flood churns only that space. When a space is
// full, a newcomer replaces the entry it would evict only if it has been asked for more
// often recently (TinyLFU: a count-min sketch of lookups, halved as it ages). Every
// operation is O(1); memory is bounded by entry count and by bytes. What is cacheable,
// and whether an answer is negative, is the caller's.

export interface AdmissionCacheConfig {
  /** Entries kept in all, positive and negative together. */
  readonly entries: number;
  /** Bytes kept in all, as the caller sizes each entry (see `ENTRY_OVERHEAD_BYTES`). */
  readonly bytes: number;
  /** Share of both bounds that negative answers may use. */
  readonly negativeShare: number;
  /** Share of the positive space the protected segment may use (SLRU; Caffeine: 0.8). */
  readonly protectedShare: number;
}

export const ADMISSION_CACHE_DEFAULTS: AdmissionCacheConfig = {
  entries: 200_000,
  bytes: 128 * 1024 * 1024,
  negativeShare: 0.1,
  protectedShare: 0.8,
};

/** Bytes an entry costs besides its payload (list node, index slot): added to every size. */
export const ENTRY_OVERHEAD_BYTES = 128;

const PROBATION = 0;
const PROTECTED = 1;
const NEGATIVE = 2;
type Segment = typeof PROBATION | typeof PROTECTED | typeof NEGATIVE;

interface Node<V> {
  key: number;
  value: V;
  bytes: number;
  segment: Segment;
  prev: Node<V> | undefined;
  next: Node<V> | undefined;
}

/** A doubly linked list, most recently used at the head. */
class Lru<V> {
  head: Node<V> | undefined;
  tail: Node<V> | undefined;
  count = 0;
  bytes = 0;

  pushHead(node: Node<V>): void {
    node.prev = undefined;
    node.next = this.head;
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    this.count++;
    this.bytes += node.bytes;
  }

  unlink(node: Node<V>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
    this.count--;
    this.bytes -= node.bytes;
  }
}

/**
 * How often each key was looked up lately: a count-min sketch of counters saturating at
 * 15 (four per key, the smallest is the estimate; at least eight counters per cache
 * entry, so a flood of names asked once leaves most counters of a newcomer at zero), all
 * halved once the additions reach ten times the cache's size, so yesterday's popularity
 * fades (Einziger et al., TinyLFU, 2017).
 */
class FrequencySketch {
  private readonly table: Uint8Array;
  private readonly mask: number;
  private additions = 0;
  private readonly resetAt: number;

  constructor(entries: number) {
    let width = 64;
    while (width < entries * 8) width *= 2;
    this.table = new Uint8Array(width);
    this.mask = width - 1;
    this.resetAt = entries * 10;
  }

  private index(key: number, i: number): number {
    let h = Math.imul(key ^ (SEEDS[i] as number), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca77);
    h ^= h >>> 13;
    return h & this.mask;
  }

  estimate(key: number): number {
    let min = 15;
    for (let i = 0; i < 4; i++) {
      const c = this.table[this.index(key, i)] as number;
      if (c < min) min = c;
    }
    return min;
  }

  increment(key: number): void {
    // Conservative update: only the counters at the minimum grow, which keeps the
    // estimates of keys sharing a counter with a hot one from inflating.
    const min = this.estimate(key);
    if (min >= 15) return;
    for (let i = 0; i < 4; i++) {
      const at = this.index(key, i);
      if (this.table[at] === min) this.table[at] = min + 1;
    }
    if (++this.additions >= this.resetAt) {
      for (let i = 0; i < this.table.length; i++) this.table[i] = (this.table[i] as number) >>> 1;
      this.additions = this.additions >>> 1;
    }
  }
}

const SEEDS = [0x97cb3127, 0xb71c8f1b, 0x1f6a2d53, 0x6ad2e0c9];

export interface AdmissionCacheStats {
  hits: number;
  misses: number;
  /** Entries refused by admission (the entry they would have evicted was used more). */
  rejected: number;
  /** Entries evicted to make room, positive and negative. */
  evictedPositive: number;
  evictedNegative: number;
}

export class AdmissionCache<V> {
  readonly config: AdmissionCacheConfig;
  readonly stats: AdmissionCacheStats = {
    hits: 0,
    misses: 0,
    rejected: 0,
    evictedPositive: 0,
    evictedNegative: 0,
  };
  private readonly index = new Map<number, Node<V>>();
  private readonly lists: [Lru<V>, Lru<V>, Lru<V>] = [new Lru(), new Lru(), new Lru()];
  private readonly sketch: FrequencySketch;
  private readonly positiveEntries: number;
  private readonly positiveBytes: number;
  private readonly protectedEntries: number;
  private readonly protectedBytes: number;
  private readonly negativeEntries: number;
  private readonly negativeBytes: number;

  constructor(config: Partial<AdmissionCacheConfig> = {}) {
    this.config = { ...ADMISSION_CACHE_DEFAULTS, ...config };
    const { entries, bytes, negativeShare, protectedShare } = this.config;
    if (!(entries >= 2) || !(bytes > 0))
      throw new RangeError('an admission cache holds at least 2 entries and some bytes');
    if (!(negativeShare > 0 && negativeShare < 1) || !(protectedShare >= 0 && protectedShare < 1))
      throw new RangeError('negativeShare is in (0, 1) and protectedShare in [0, 1)');
    this.negativeEntries = Math.max(1, Math.floor(entries * negativeShare));
    this.negativeBytes = Math.floor(bytes * negativeShare);
    this.positiveEntries = Math.max(1, entries - this.negativeEntries);
    this.positiveBytes = bytes - this.negativeBytes;
    this.protectedEntries = Math.floor(this.positiveEntries * protectedShare);
    this.protectedBytes = Math.floor(this.positiveBytes * protectedShare);
    this.sketch = new FrequencySketch(entries);
  }

  /** The entry for `key`, counting the lookup either way (a miss is a use too). */
  get(key: number): V | undefined {
    this.sketch.increment(key);
    const node = this.index.get(key);
    if (!node) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    const list = this.lists[node.segment];
    list.unlink(node);
    if (node.segment === PROBATION) {
      // Hit again: promoted; the protected segment's least recent entry steps down to
      // probation rather than out, so it gets another chance to be hit.
      node.segment = PROTECTED;
      this.lists[PROTECTED].pushHead(node);
      this.demoteProtected();
    } else list.pushHead(node);
    return node.value;
  }

  /**
   * Counts a use of `key` without a lookup: for a caller that probes with peek and counts
   * the lookup once it knows which key the query stands for.
   */
  touch(key: number): void {
    this.sketch.increment(key);
  }

  /** The entry for `key` without counting a use or touching recency. */
  peek(key: number): V | undefined {
    return this.index.get(key)?.value;
  }

  /**
   * Offers `value` for `key`, `bytes` long (payload; the overhead is added), negative or
   * not. Returns whether it is now cached: a newcomer to a full space is refused when
   * the entry it would evict was used at least as often.
   */
  set(key: number, value: V, bytes: number, negative: boolean): boolean {
    const size = bytes + ENTRY_OVERHEAD_BYTES;
    const existing = this.index.get(key);
    if (existing) {
      this.remove(existing);
    }
    const maxBytes = negative ? this.negativeBytes : this.positiveBytes;
    if (size > maxBytes) return false;
    if (!existing && !this.admit(key, size, negative)) {
      this.stats.rejected++;
      return false;
    }
    const node: Node<V> = {
      key,
      value,
      bytes: size,
      segment: negative ? NEGATIVE : PROBATION,
      prev: undefined,
      next: undefined,
    };
    this.makeRoom(size, negative);
    this.lists[node.segment].pushHead(node);
    this.index.set(key, node);
    return true;
  }

  delete(key: number): boolean {
    const node = this.index.get(key);
    if (!node) return false;
    this.remove(node);
    return true;
  }

  get size(): number {
    return this.index.size;
  }

  get bytes(): number {
    return this.lists[0].bytes + this.lists[1].bytes + this.lists[2].bytes;
  }

  /** Entries per space: probation, protected, negative. */
  get segments(): { probation: number; protected: number; negative: number } {
    return {
      probation: this.lists[PROBATION].count,
      protected: this.lists[PROTECTED].count,
      negative: this.lists[NEGATIVE].count,
    };
  }

  has(key: number): boolean {
    return this.index.has(key);
  }

  /** The entries, oldest set first (the order of the snapshot's AnswerCache). */
  *values(): IterableIterator<V> {
    for (const node of this.index.values()) yield node.value;
  }

  /**
   * The entries most worth keeping first: protected, then probation, then negative, each
   * most recently used first. The order to prewarm a successor cache in.
   */
  *hottestFirst(): IterableIterator<V> {
    for (const segment of [PROTECTED, PROBATION, NEGATIVE] as const)
      for (let node = this.lists[segment].head; node; node = node.next) yield node.value;
  }

  /** Whether a space must evict to take `size` more bytes and one more entry. */
  private full(size: number, negative: boolean): boolean {
    if (negative) {
      const l = this.lists[NEGATIVE];
      return l.count + 1 > this.negativeEntries || l.bytes + size > this.negativeBytes;
    }
    const p = this.lists[PROBATION];
    const q = this.lists[PROTECTED];
    return (
      p.count + q.count + 1 > this.positiveEntries || p.bytes + q.bytes + size > this.positiveBytes
    );
  }

  /** The entry a space evicts next: its least recent, probation before protected. */
  private victim(negative: boolean): Node<V> | undefined {
    if (negative) return this.lists[NEGATIVE].tail;
    return this.lists[PROBATION].tail ?? this.lists[PROTECTED].tail;
  }

  /** TinyLFU: a full space takes a newcomer only if it is used more than its victim. */
  private admit(key: number, size: number, negative: boolean): boolean {
    if (!this.full(size, negative)) return true;
    const victim = this.victim(negative);
    if (!victim) return true;
    return this.sketch.estimate(key) > this.sketch.estimate(victim.key);
  }

  private makeRoom(size: number, negative: boolean): void {
    while (this.full(size, negative)) {
      const victim = this.victim(negative);
      if (!victim) return;
      this.remove(victim);
      if (negative) this.stats.evictedNegative++;
      else this.stats.evictedPositive++;
    }
  }

  private demoteProtected(): void {
    const q = this.lists[PROTECTED];
    while (q.count > this.protectedEntries || q.bytes > this.protectedBytes) {
      const node = q.tail;
      if (!node) return;
      q.unlink(node);
      node.segment = PROBATION;
      this.lists[PROBATION].pushHead(node);
    }
  }

  private remove(node: Node<V>): void {
    this.lists[node.segment].unlink(node);
    this.index.delete(node.key);
  }
}
