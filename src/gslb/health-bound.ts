// How long a GSLB answer may be cached given the health it rests on (gdnsd's rule): at most
// until the earliest moment any node the decision consulted could change eligibility,
// never below a floor, and short while a consulted node's state is unknown. This module
// holds the per-node bounds the health checker computes (health/ttl-bound.ts) and turns
// them into a TTL; it knows nothing of probes. Read on the hot path: no I/O, and a pool's
// bound is computed once per table, not per query.
import type { FamilyPool } from './plan.js';

/** One node's bound as the health checker last computed it. */
export interface NodeBound {
  /**
   * Epoch ms before which the node's eligibility cannot change through probes; Infinity
   * when no probe can change it (probe type 'none', paused, drained).
   */
  readonly at: number;
  /** The node's state is unknown (no quorum yet): any probe may settle it. */
  readonly unknown: boolean;
  /**
   * The quorum's verdict the bound starts from, when it has one. A snapshot whose node
   * says otherwise has not caught up with a flip yet: its answers are due to change now.
   */
  readonly up?: boolean | undefined;
}

export interface HealthTtlSettings {
  /** No health bound takes a TTL below this (seconds). */
  readonly floorSec: number;
  /** The TTL while a consulted node's state is unknown (seconds). */
  readonly unknownSec: number;
}

/** The earliest bound among a pool's nodes; `node` is the node that sets it. */
export interface PoolBound {
  readonly at: number;
  readonly unknown: boolean;
  readonly node: string | undefined;
}

const STABLE: PoolBound = { at: Infinity, unknown: false, node: undefined };

/** What set an answer's TTL. */
export type TtlBy = 'domain' | 'failover' | 'health' | 'unknown' | 'floor';

/**
 * The bounds of every node, immutable once built: the checker builds a new table after
 * each round. A node the table does not hold (added since, or before the first round) is
 * unknown: nothing yet says when it could flip.
 */
export class HealthBounds {
  private readonly pools = new WeakMap<FamilyPool, PoolBound>();

  constructor(
    readonly settings: HealthTtlSettings,
    readonly nodes: ReadonlyMap<string, NodeBound>,
  ) {}

  /**
   * The earliest bound among the nodes that can matter in `fp`: every node with weight > 0
   * that is not drained (a drained node is never eligible, whatever its health). A node
   * whose quorum verdict differs from its `healthy` in this snapshot is flipping now.
   */
  poolBound(fp: FamilyPool): PoolBound {
    let b = this.pools.get(fp);
    if (b) return b;
    let at = Infinity;
    let node: string | undefined;
    let unknownNode: string | undefined;
    for (const n of fp.nodes) {
      if (n.drained || n.weight <= 0) continue;
      const nb = this.nodes.get(n.id);
      if (!nb || nb.unknown) {
        unknownNode ??= n.id;
        continue;
      }
      const due = nb.up !== undefined && nb.up !== n.healthy ? -Infinity : nb.at;
      if (due < at) {
        at = due;
        node = n.id;
      }
    }
    b =
      unknownNode !== undefined
        ? { at, unknown: true, node: unknownNode }
        : node === undefined
          ? STABLE
          : { at, unknown: false, node };
    this.pools.set(fp, b);
    return b;
  }
}

/** What a decision consults: the bounds and the time it is made at. */
export interface HealthClock {
  readonly bounds: HealthBounds;
  /** Epoch ms. */
  readonly now: number;
}

/** Running minimum over the pools a decision consults (decide.ts folds into one). */
export interface BoundAcc {
  at: number;
  node: string | undefined;
  unknown: string | undefined;
}

export function newBoundAcc(): BoundAcc {
  return { at: Infinity, node: undefined, unknown: undefined };
}

export function foldPool(acc: BoundAcc, b: PoolBound): void {
  if (b.unknown) acc.unknown ??= b.node;
  if (b.at < acc.at) {
    acc.at = b.at;
    if (!b.unknown) acc.node = b.node;
  }
}

export interface BoundedTtl {
  readonly ttl: number;
  readonly by: TtlBy;
  /** The node behind a 'health', 'unknown' or 'floor' bound. */
  readonly node: string | undefined;
  /**
   * Epoch ms until which the answer may be reused with its TTL counted down (see
   * `remainingTtl`); Infinity when no health bound applies.
   */
  readonly validUntil: number;
}

/**
 * The TTL of an answer whose plan gives `base` seconds (set by `by`), given what the
 * consulted pools' nodes allow at `now`:
 *   - a consulted node unknown: min(base, unknownSec), for unknownSec at most;
 *   - else the whole seconds left before the earliest flip, when fewer than `base`;
 *   - never below floorSec (a bound already passed, a flip due within the floor).
 * Whole seconds are rounded down, so `now + ttl` never passes the bound unless the floor
 * says so.
 */
export function boundTtl(
  base: number,
  by: 'domain' | 'failover',
  acc: BoundAcc,
  clock: HealthClock,
): BoundedTtl {
  const { floorSec, unknownSec } = clock.bounds.settings;
  let at = acc.at;
  let node = acc.node;
  let kind: TtlBy = 'health';
  if (acc.unknown !== undefined) {
    const u = clock.now + unknownSec * 1000;
    if (u <= at) {
      at = u;
      node = acc.unknown;
      kind = 'unknown';
    }
  }
  if (at === Infinity) return { ttl: base, by, node: undefined, validUntil: Infinity };
  const left = Math.floor((at - clock.now) / 1000);
  if (left >= base) return { ttl: base, by, node: undefined, validUntil: at };
  if (left < floorSec) {
    const ttl = Math.min(base, floorSec);
    return { ttl, by: ttl < base ? 'floor' : by, node, validUntil: at };
  }
  return { ttl: left, by: kind, node, validUntil: at };
}

/**
 * The TTL a cached answer of `ttl` seconds, valid until `validUntil`, may be served with
 * at `now`: counted down with the time left before the bound, never below `floorSec`,
 * never above what it was. Undefined once the bound has passed (answer afresh).
 */
export function remainingTtl(
  ttl: number,
  validUntil: number,
  floorSec: number,
  now: number,
): number | undefined {
  if (validUntil === Infinity) return ttl;
  if (now >= validUntil) return undefined;
  const left = Math.floor((validUntil - now) / 1000);
  return Math.min(ttl, Math.max(left, floorSec));
}
