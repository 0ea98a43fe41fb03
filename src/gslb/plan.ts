// A domain's answer plan and the node pools inside a snapshot. Both are immutable once
// published; FamilyPool only memoises pure functions of its contents (hash orders).
import { rank, rankHead, score, type Weighted } from './rendezvous.js';
import type { ChainStep, LastResort } from './policy-model.js';

export interface NodeEntry extends Weighted {
  readonly id: string;
  readonly pool: string;
  /** Eligible for answers: healthy and not drained. */
  readonly active: boolean;
  /** The health checker's (or the API's) verdict, whatever the mode. */
  readonly healthy: boolean;
  readonly drained: boolean;
  /** Pre-encoded A / AAAA rdata, when the node has that family. */
  readonly a: Buffer | undefined;
  readonly aaaa: Buffer | undefined;
}

export type Family = 4 | 6;

export interface Spread {
  readonly nodes: number;
  readonly v4Prefix: number;
  readonly v6Prefix: number;
}

/** Everything in a plan that is not the domain's identity or its origins: domains share it. */
export interface PlanSettings {
  readonly ttl: number;
  readonly failoverTtl: number;
  readonly answers: number;
  readonly chain: readonly ChainStep[];
  /** Pools allowed to serve the domain; undefined = all. */
  readonly pools: ReadonlySet<string> | undefined;
  readonly lastResort: LastResort;
  readonly ecs: boolean;
  readonly spread: Spread | undefined;
  /**
   * The 'default' step's pool for a domain limited to some pools: their nodes together,
   * found in the snapshot's `gslb.fleets` by this key (a key, not the pool itself, so a
   * plan holds nothing of one build's nodes and the next build may keep it).
   */
  readonly fleetKey: string | undefined;
}

export interface DomainPlan extends PlanSettings {
  readonly domain: string;
  readonly label: string;
  /** The base name: `<label>.<zone>`. */
  readonly owner: string;
  readonly keySeed: number;
  /** Origin addresses answered by the 'backup' last resort (backup origins first). */
  readonly fallbackA: readonly Buffer[];
  readonly fallbackAAAA: readonly Buffer[];
  /** An origin host name, CNAMEd to when there is no origin address of either family. */
  readonly fallbackHost: string | undefined;
}

/** What bounded-load hashing needs to know about every domain. */
export interface LoadDemand {
  readonly keySeed: number;
  readonly answers: number;
}

/**
 * Memoised rendezvous orders for one list of (seed, weight) pairs. Orders depend on nothing
 * else, so a memo outlives its snapshot: the next build hands it to every pool whose nodes
 * rank the same (see OrderMemos), and a health change, an answer cache reset or a change
 * in another pool does not make the first answers of a whole pool cold again.
 */
export class OrderMemo {
  readonly orders = new Map<number, Uint16Array>();
  /**
   * Memoised heads, packed one after another in `slab` (keySeed → offset, the length at
   * `slab[offset]`, the indices after it): a pool may hold one per domain, and a typed
   * array of its own would cost more than a hundred bytes where the head is a few.
   */
  readonly heads = new Map<number, number>();
  slab = new Uint16Array(256);
  slabUsed = 0;

  /** Appends a head to the slab (a larger one replaces a smaller: the old bytes stay unused). */
  keep(head: Uint16Array): number {
    const at = this.slabUsed;
    const end = at + 1 + head.length;
    if (end > this.slab.length) {
      const grown = new Uint16Array(Math.max(end, this.slab.length * 2));
      grown.set(this.slab.subarray(0, at));
      this.slab = grown;
    }
    this.slab[at] = head.length;
    this.slab.set(head, at + 1);
    this.slabUsed = end;
    return at;
  }
}

/**
 * The order memos of one snapshot, by the ranking they serve (the family and every node's
 * seed and weight, in order). A build takes the previous snapshot's: a pool ranking as
 * before gets its memo, one that changed starts empty, and memos nobody took are dropped
 * with the previous snapshot.
 */
export class OrderMemos {
  private readonly memos = new Map<string, OrderMemo>();

  constructor(
    private previous?: OrderMemos,
    /** A memo holding more entries than this (domains deleted since) starts over. */
    private readonly maxEntries = Infinity,
  ) {}

  /**
   * Called when the build is done taking memos: lets go of the previous snapshot's, so
   * each snapshot does not keep every earlier one's memos alive through a chain.
   */
  seal(): void {
    this.previous = undefined;
  }

  for(family: Family, nodes: readonly Weighted[]): OrderMemo {
    let key = String(family);
    for (const n of nodes) key += `,${n.seed}/${n.weight}`;
    let memo = this.memos.get(key);
    if (!memo) {
      const old = this.previous?.memos.get(key);
      memo = old && old.heads.size + old.orders.size <= this.maxEntries ? old : new OrderMemo();
      this.memos.set(key, memo);
    }
    return memo;
  }

  get size(): number {
    return this.memos.size;
  }
}

/** The nodes of one family in one pool, with rendezvous orders memoised per domain. */
export class FamilyPool {
  private readonly memo: OrderMemo;
  private bounded: Map<number, Uint16Array> | undefined;
  /** Nodes eligible for answers (healthy, not drained, weight > 0). */
  readonly eligible: number;
  /** Nodes with weight > 0 that are not eligible: how far past the first N picks may lie. */
  private readonly ineligible: number;

  constructor(
    readonly family: Family,
    readonly nodes: readonly NodeEntry[],
    private readonly loadBound: number | null = null,
    private readonly demand: readonly LoadDemand[] = [],
    memos?: OrderMemos,
  ) {
    this.memo = memos ? memos.for(family, nodes) : new OrderMemo();
    this.eligible = nodes.filter((n) => n.active && n.weight > 0).length;
    this.ineligible = nodes.filter((n) => n.weight > 0).length - this.eligible;
  }

  /**
   * A prefix of `order(keySeed)` holding at least the first `want` eligible nodes (all of
   * them when fewer exist): the first answer for a domain in a large pool costs one score
   * per node instead of a full sort. Memoised per domain for the largest `want` asked.
   */
  head(keySeed: number, want: number): Uint16Array {
    if (this.loadBound !== null) return this.order(keySeed);
    const memo = this.memo;
    const full = memo.orders.get(keySeed);
    if (full) return full;
    const m = want + this.ineligible;
    let at = memo.heads.get(keySeed);
    let length = at === undefined ? 0 : (memo.slab[at] as number);
    if (at === undefined || (length < m && length < this.nodes.length)) {
      const h = rankHead(keySeed, this.nodes, m);
      at = memo.keep(h);
      length = h.length;
      memo.heads.set(keySeed, at);
    }
    return memo.slab.subarray(at + 1, at + 1 + length);
  }

  /** Every node with weight > 0, best first for `keySeed`; with a load bound, the bounded picks first. */
  order(keySeed: number): Uint16Array {
    if (this.loadBound !== null) {
      const b = (this.bounded ??= this.computeBounded(this.loadBound)).get(keySeed);
      if (b) return b;
    }
    let o = this.memo.orders.get(keySeed);
    if (!o) {
      o = Uint16Array.from(rank(keySeed, this.nodes));
      this.memo.orders.set(keySeed, o);
    }
    return o;
  }

  /**
   * Bounded-load consistent hashing: domains, in a fixed order, take their first eligible
   * nodes by rendezvous order, skipping nodes already at ceil(c × fair share). Computed
   * for all domains at once, on first use, because each assignment depends on the ones
   * before it. A health change can therefore move more than the failed node's share.
   */
  private computeBounded(c: number): Map<number, Uint16Array> {
    const out = new Map<number, Uint16Array>();
    const eligible = this.nodes.map((n) => n.active && n.weight > 0);
    const total = this.nodes.reduce((s, n, i) => s + (eligible[i] ? n.weight : 0), 0);
    if (total === 0) return out;
    const picks = this.demand.reduce((s, d) => s + d.answers, 0);
    const cap = this.nodes.map((n, i) =>
      eligible[i] ? Math.ceil((c * picks * n.weight) / total) : 0,
    );
    const load = new Array<number>(this.nodes.length).fill(0);
    const demand = [...this.demand].sort((a, b) => a.keySeed - b.keySeed);
    for (const d of demand) {
      if (out.has(d.keySeed)) continue;
      const plain = rank(d.keySeed, this.nodes);
      const chosen: number[] = [];
      for (const i of plain) {
        if (chosen.length >= d.answers) break;
        if (!eligible[i] || (load[i] as number) >= (cap[i] as number)) continue;
        chosen.push(i);
        load[i] = (load[i] as number) + 1;
      }
      out.set(
        d.keySeed,
        Uint16Array.from([...chosen, ...plain.filter((i) => !chosen.includes(i))]),
      );
    }
    return out;
  }

  /** Rendezvous score of each node for `keySeed`, for explain. */
  scores(keySeed: number): number[] {
    return this.nodes.map((n) => score(keySeed, n.seed, n.weight));
  }
}

/** A named pool as the chain sees it: coordinates, minimum and its two family pools. */
export interface CompiledPool {
  readonly name: string;
  readonly lat: number | undefined;
  readonly lon: number | undefined;
  readonly minHealthy: number;
  readonly v4: FamilyPool;
  readonly v6: FamilyPool;
}
