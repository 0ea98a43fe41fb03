// Encoded responses remembered per snapshot by what they depend on, not by who asked: the
// question (name case-folded, type, class, header flags), the transport and EDNS shape
// (present, DO, the size limit that decides truncation, NSID asked, COOKIE present, ECS
// family and source prefix), and the location the GSLB decisions read, as a class of
// facts (gslb/location-memo.ts) under a basis: none (no decision was made, the answer is
// the same for every client), the ECS subnet, or the resolver's address. How a query is
// reduced to that key, and how a hit becomes its reply, is pipeline/decision-key.ts; what
// the answer depends on beyond it keeps it out (order.ts end step 4). Like the exact
// cache (answer-cache.ts) it hangs off its snapshot and starts over with new GeoIP data;
// entries are admitted by use, negative answers in a space of their own.
import type { Snapshot } from './snapshot.js';
import type { Decision } from '../gslb/decide.js';
import { AdmissionCache } from '../lib/admission-cache.js';

/** Which client address the answer's decisions located (see the module comment). */
export const Basis = { NONE: 0, ECS: 1, RESOLVER: 2 } as const;
export type Basis = (typeof Basis)[keyof typeof Basis];

export interface DecisionAnswer {
  /** The question from octet 12 to its end (name, type, class), the name case-folded. */
  readonly question: Buffer;
  /** Header octets 2–3 of the query (opcode, RD, CD and the rest), echoed as they were. */
  readonly flags: number;
  /** Transport and EDNS shape, packed (pipeline/decision-key.ts). */
  readonly shape: number;
  /** The largest reply the query allows (order.ts end step 2). */
  readonly sizeLimit: number;
  readonly basis: Basis;
  /** The location class of the basis; 0 for Basis.NONE. */
  readonly classId: number;
  /** The wire ends with a COOKIE option, rewritten for each reply. */
  readonly cookie: boolean;
  /** Where the ECS option's address octets sit in `wire` (0: no ECS option). */
  readonly ecsAt: number;
  readonly counter: { inc(): void };
  /** The whole response as the slow path encoded it (ID, question case and ECS address of its query). */
  readonly wire: Buffer;
  readonly truncated: boolean;
  /** The GSLB decisions behind it, counted again on every hit so metrics stay true. */
  readonly decisions: readonly Decision[];
  /** As in CachedAnswer (answer-cache.ts): the health bound and the TTLs it counts down. */
  readonly validUntil: number;
  readonly ttlOffsets: readonly number[];
  readonly ttlFloor: number;
}

export const DECISION_CACHE_ENTRIES = 200_000;
export const DECISION_CACHE_BYTES = 128 * 1024 * 1024;

/** NXDOMAIN, or NOERROR with an empty answer section (NODATA, referrals). */
function isNegative(wire: Buffer): boolean {
  const rcode = (wire[3] as number) & 0x0f;
  return rcode === 3 || (rcode === 0 && wire.readUInt16BE(6) === 0);
}

export class DecisionCache {
  private readonly cache: AdmissionCache<DecisionAnswer>;

  constructor(
    /** Identity of the GeoIP data the answers were computed with. */
    readonly geoVersion: unknown,
    entries = DECISION_CACHE_ENTRIES,
    bytes = DECISION_CACHE_BYTES,
  ) {
    this.cache = new AdmissionCache<DecisionAnswer>({ entries, bytes });
  }

  /** The entry under `key` without counting a use: probing a basis that may not apply. */
  peek(key: number): DecisionAnswer | undefined {
    return this.cache.peek(key);
  }

  /** Counts a use of `key` and refreshes its recency (a hit). */
  use(key: number): void {
    this.cache.get(key);
  }

  /**
   * Offers an answer; whether it is kept is the admission's. The query that computed it
   * counts as a use of its key, as a lookup would have (misses probe with peek).
   */
  set(key: number, answer: DecisionAnswer): void {
    this.cache.touch(key);
    this.cache.set(
      key,
      answer,
      answer.wire.length + answer.question.length + 64,
      isNegative(answer.wire),
    );
  }

  get size(): number {
    return this.cache.size;
  }

  /** Entries per space: probation, protected, negative. */
  get segments(): { probation: number; protected: number; negative: number } {
    return this.cache.segments;
  }
}

const caches = new WeakMap<Snapshot, DecisionCache>();

/** The decision cache of `snapshot` for answers computed with GeoIP data `geoVersion`. */
export function decisionCacheFor(snapshot: Snapshot, geoVersion: unknown): DecisionCache {
  let cache = caches.get(snapshot);
  if (!cache || cache.geoVersion !== geoVersion) {
    cache = new DecisionCache(geoVersion);
    caches.set(snapshot, cache);
  }
  return cache;
}

/** The decision cache `snapshot` has, if any query has been answered from it. */
export function existingDecisionCache(snapshot: Snapshot): DecisionCache | undefined {
  return caches.get(snapshot);
}
