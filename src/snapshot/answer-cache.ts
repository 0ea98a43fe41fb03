// Encoded responses remembered per snapshot: a query that repeats one already answered
// (same client, transport, flags, question up to case, and EDNS bytes but the cookie's)
// gets the same bytes back with its own ID, question case and cookie. The cache hangs off the snapshot it was
// filled from (a WeakMap), so publishing a new snapshot drops it without any bookkeeping;
// a GeoIP reload starts a fresh one too, because answers depend on the database.
import type { Snapshot } from './snapshot.js';
import type { Decision } from '../gslb/decide.js';

export interface CachedAnswer {
  /** The query it answers, from octet 2 on, its name case-folded (see pipeline/fast-path.ts). */
  readonly key: Buffer;
  readonly transport: string;
  readonly address: string;
  readonly questionEnd: number;
  /** Where the query's COOKIE option sits (0, 0: none); its content is not part of the key. */
  readonly cookieStart: number;
  readonly cookieEnd: number;
  /** The wire ends with a COOKIE option, rewritten for each reply. */
  readonly cookie: boolean;
  /** The bound query counter (transport, qtype, rcode) to count each hit with. */
  readonly counter: { inc(): void };
  /** The whole response as the slow path encoded it (ID and question case of its query). */
  readonly wire: Buffer;
  readonly truncated: boolean;
  /** The GSLB decisions behind it, counted again on every hit so metrics stay true. */
  readonly decisions: readonly Decision[];
}

/**
 * Entries per snapshot. When full, the cache starts over rather than tracking recency:
 * a clear costs nothing per query, and a cache this size covers every name a busy
 * authoritative server sees from its resolvers between two snapshots.
 */
export const ANSWER_CACHE_ENTRIES = 200_000;

export class AnswerCache {
  private readonly map = new Map<number, CachedAnswer>();

  constructor(
    /** Identity of the GeoIP data the answers were computed with. */
    readonly geoVersion: unknown,
    private readonly capacity = ANSWER_CACHE_ENTRIES,
  ) {}

  /** By key hash: the caller checks the entry is its query (a collision is a miss). */
  get(key: number): CachedAnswer | undefined {
    return this.map.get(key);
  }

  set(key: number, answer: CachedAnswer): void {
    if (this.map.size >= this.capacity) this.map.clear();
    this.map.set(key, answer);
  }

  get size(): number {
    return this.map.size;
  }

  /** The answers, oldest first. */
  values(): IterableIterator<CachedAnswer> {
    return this.map.values();
  }
}

const caches = new WeakMap<Snapshot, AnswerCache>();

/** The cache `snapshot` has, if any query has been answered from it. */
export function existingAnswerCache(snapshot: Snapshot): AnswerCache | undefined {
  return caches.get(snapshot);
}

/** The cache of `snapshot` for answers computed with GeoIP data `geoVersion`. */
export function answerCacheFor(snapshot: Snapshot, geoVersion: unknown): AnswerCache {
  let cache = caches.get(snapshot);
  if (!cache || cache.geoVersion !== geoVersion) {
    cache = new AnswerCache(geoVersion);
    caches.set(snapshot, cache);
  }
  return cache;
}
