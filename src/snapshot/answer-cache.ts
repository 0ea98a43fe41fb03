// Encoded responses remembered per snapshot: a query that repeats one already answered
// (same client, transport, flags, question up to case, and EDNS bytes but the cookie's)
// gets the same bytes back with its own ID, question case and cookie. The cache hangs off the snapshot it was
// filled from (a WeakMap), so publishing a new snapshot drops it without any bookkeeping;
// a GeoIP reload starts a fresh one too, because answers depend on the database. Entries
// are admitted by use, negative answers in a space of their own (AnswerCache).
import type { Snapshot } from './snapshot.js';
import type { Decision } from '../gslb/decide.js';
import { AdmissionCache } from '../lib/admission-cache.js';

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
  /**
   * Epoch ms after which the answer is not served (the earliest health bound of its
   * decisions, gslb/health-bound.ts); Infinity when none applies.
   */
  readonly validUntil: number;
  /**
   * Where the TTLs of its A and AAAA answer records (or, in a negative answer, of its SOA
   * and NSEC), and of the RRSIGs covering them,
   * sit in `wire`: before `validUntil` each is served as min(its TTL, seconds left, at
   * least `ttlFloor`), so no resolver keeps it past the bound. Empty when `validUntil` is
   * Infinity.
   */
  readonly ttlOffsets: readonly number[];
  readonly ttlFloor: number;
}

/**
 * Entries per snapshot; a tenth of them (and of the bytes) for negative answers, which a
 * random-subdomain flood churns without touching the positive ones.
 */
export const ANSWER_CACHE_ENTRIES = 200_000;
export const ANSWER_CACHE_BYTES = 128 * 1024 * 1024;

/** NXDOMAIN, or NOERROR with an empty answer section (NODATA, referrals). */
function isNegative(wire: Buffer): boolean {
  const rcode = (wire[3] as number) & 0x0f;
  return rcode === 3 || (rcode === 0 && wire.readUInt16BE(6) === 0);
}

/**
 * The answers of one snapshot, admitted by use (lib/admission-cache.ts): a full cache
 * takes a newcomer only if it is asked for more than the entry it would evict, so
 * answers asked once never push out the ones resolvers keep asking for.
 */
export class AnswerCache {
  private readonly cache: AdmissionCache<CachedAnswer>;

  constructor(
    /** Identity of the GeoIP data the answers were computed with. */
    readonly geoVersion: unknown,
    entries = ANSWER_CACHE_ENTRIES,
    bytes = ANSWER_CACHE_BYTES,
  ) {
    this.cache = new AdmissionCache<CachedAnswer>({ entries, bytes });
  }

  /** By key hash: the caller checks the entry is its query (a collision is a miss). */
  get(key: number): CachedAnswer | undefined {
    return this.cache.get(key);
  }

  /** Offers an answer; whether it is kept is the admission's. */
  set(key: number, answer: CachedAnswer): void {
    this.cache.set(key, answer, answer.wire.length + answer.key.length, isNegative(answer.wire));
  }

  get size(): number {
    return this.cache.size;
  }

  /** The answers, most worth keeping first (the order to prewarm a successor in). */
  hottestFirst(): IterableIterator<CachedAnswer> {
    return this.cache.hottestFirst();
  }

  /** Every answer, in no particular order. */
  values(): IterableIterator<CachedAnswer> {
    return this.cache.values();
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
