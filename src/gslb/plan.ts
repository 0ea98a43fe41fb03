// A domain's answer plan inside a snapshot, and the pure selection over it:
// (plan, family) → the first N active nodes in the domain's rendezvous order, or the
// origin's addresses when no node of that family is active.
import { rank, type Weighted } from './rendezvous.js';

export interface NodeEntry extends Weighted {
  readonly id: string;
  readonly pool: string;
  readonly active: boolean;
  /** Pre-encoded A / AAAA rdata, when the node has that family. */
  readonly a: Buffer | undefined;
  readonly aaaa: Buffer | undefined;
}

export type Family = 4 | 6;

export interface DomainPlan {
  readonly domain: string;
  readonly label: string;
  /** The base name: `<label>.<zone>`. */
  readonly owner: string;
  readonly ttl: number;
  readonly failoverTtl: number;
  readonly answers: number;
  readonly keySeed: number;
  /** Origin addresses answered when no edge of the family is active (primary first). */
  readonly fallbackA: readonly Buffer[];
  readonly fallbackAAAA: readonly Buffer[];
  /** An origin host name, CNAMEd to when there is no origin address of either family. */
  readonly fallbackHost: string | undefined;
}

export interface Selection {
  readonly rdata: readonly Buffer[];
  readonly ttl: number;
  readonly source: 'edges' | 'origin' | 'none';
  /** Node ids behind `rdata` when source is 'edges'. */
  readonly nodes: readonly string[];
}

/** Nodes of one family, with a lazily computed rendezvous order per domain. */
export class FamilyPool {
  private readonly orders = new Map<number, Uint16Array>();
  constructor(
    readonly family: Family,
    readonly nodes: readonly NodeEntry[],
  ) {}

  order(keySeed: number): Uint16Array {
    let o = this.orders.get(keySeed);
    if (!o) {
      o = Uint16Array.from(rank(keySeed, this.nodes));
      this.orders.set(keySeed, o);
    }
    return o;
  }
}

export function select(plan: DomainPlan, pool: FamilyPool): Selection {
  const order = pool.order(plan.keySeed);
  const rdata: Buffer[] = [];
  const nodes: string[] = [];
  for (let i = 0; i < order.length && rdata.length < plan.answers; i++) {
    const n = pool.nodes[order[i] as number] as NodeEntry;
    if (!n.active) continue;
    rdata.push((pool.family === 4 ? n.a : n.aaaa) as Buffer);
    nodes.push(n.id);
  }
  if (rdata.length > 0) return { rdata, ttl: plan.ttl, source: 'edges', nodes };
  const fallback = pool.family === 4 ? plan.fallbackA : plan.fallbackAAAA;
  if (fallback.length > 0)
    return { rdata: fallback, ttl: plan.failoverTtl, source: 'origin', nodes: [] };
  return { rdata: [], ttl: plan.failoverTtl, source: 'none', nodes: [] };
}
