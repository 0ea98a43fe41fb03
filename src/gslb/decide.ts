// The GSLB decision for one base name, one address family and one client location: a
// pure function of the snapshot's pool index, the domain's plan and the location.
//   1. The CIDR map's pool, when the client's subnet is mapped to one.
//   2. The chain (default asn → country → continent → nearest → default): each step
//      yields pools in order; the first with at least `minHealthy` eligible nodes of the
//      family wins, and its first N nodes in the domain's rendezvous order are the picks.
//   3. The last resort: origin (backup) addresses, fail-open (picks with health ignored,
//      from the first pool the location matched), or fail-closed (nothing: NODATA).
//   4. Before a last resort that would give nothing of the family (no origin address of
//      it, fail-open without nodes of it), the family step: the nearest pool, of those
//      the domain may use, with enough eligible nodes of the family. A NODATA therefore
//      goes out only when every client would get it, or when the domain is fail-closed;
//      resolvers cache negative answers for everyone (PowerDNS Recursor ignores their
//      ECS scope), so a NODATA always carries scope /0.
// The ECS scope is the longest prefix among the facts the steps actually consulted, so
// it is exactly as wide as the data allows and /0 when no step looked at the client.
// The TTL is the plan's, bounded by the health of every node in every pool consulted
// (health-bound.ts) when a HealthClock is given.
import { maskBytes } from '../lib/cidr.js';
import { distanceKm, type Location } from './location.js';
import {
  boundTtl,
  foldPool,
  newBoundAcc,
  type BoundedTtl,
  type HealthClock,
  type TtlBy,
} from './health-bound.js';
import type { GslbIndex } from './pools.js';
import type { ChainStep } from './policy-model.js';
import { fmix32, hashBytes, score } from './rendezvous.js';
import type { CompiledPool, DomainPlan, Family, FamilyPool, NodeEntry } from './plan.js';

export type DecisionKind = 'map' | ChainStep | 'family' | 'fallback';

export interface Decision {
  readonly family: Family;
  readonly rdata: readonly Buffer[];
  /** Node ids behind `rdata` when source is 'edges'. */
  readonly nodes: readonly string[];
  readonly ttl: number;
  readonly source: 'edges' | 'origin' | 'none';
  readonly decision: DecisionKind;
  readonly pool: string | undefined;
  /** RFC 7871 scope prefix: how far around the client's subnet this decision holds. */
  readonly scope: number;
  /**
   * The prefix of the client address the picks were spread by (plan `spread`), 0 when
   * they depend on the location's facts alone.
   */
  readonly spread?: number;
  /** What set `ttl`: the plan's TTL or failover TTL, or a health bound (health-bound.ts). */
  readonly ttlBy: TtlBy;
  /** The node whose health bound set `ttl`, if one did. */
  readonly ttlNode: string | undefined;
  /**
   * Epoch ms until which the answer may be reused with its TTL counted down; Infinity when
   * no health bound applies.
   */
  readonly validUntil: number;
}

/** What explain collects; decide() fills it only when one is passed. */
export interface DecisionTrace {
  steps: {
    step: 'map' | ChainStep | 'family';
    looked: string;
    pools: { pool: string; verdict: 'chosen' | 'skipped'; reason: string }[];
  }[];
  candidates: {
    node: string;
    healthy: boolean;
    drained: boolean;
    weight: number;
    score: number;
    picked: boolean;
  }[];
  spread: { bucket: string; among: string[] } | undefined;
  lastResort: string | undefined;
}

export function newTrace(): DecisionTrace {
  return { steps: [], candidates: [], spread: undefined, lastResort: undefined };
}

function familyPool(pool: CompiledPool, family: Family): FamilyPool {
  return family === 4 ? pool.v4 : pool.v6;
}

interface Picked {
  readonly nodes: readonly NodeEntry[];
  /** Scope the spread bucket adds (0 without spread). */
  readonly scope: number;
}

/** First N eligible nodes of the domain's order in `fp`, or, with spread, N of the top k by client bucket. */
function pickIn(
  plan: DomainPlan,
  fp: FamilyPool,
  loc: Location | undefined,
  ignoreHealth: boolean,
  trace: DecisionTrace | undefined,
): Picked {
  const ok = (n: NodeEntry) => (ignoreHealth ? !n.drained : n.active);
  const spread = plan.spread;
  const want = spread && loc ? Math.max(spread.nodes, plan.answers) : plan.answers;
  // Health ignored (fail-open) and explain walk the whole order; answers need only its head.
  const order = ignoreHealth || trace ? fp.order(plan.keySeed) : fp.head(plan.keySeed, want);
  let chosen: NodeEntry[] = [];
  for (let i = 0; i < order.length && chosen.length < want; i++) {
    const n = fp.nodes[order[i] as number] as NodeEntry;
    if (ok(n)) chosen.push(n);
  }
  let scope = 0;
  if (spread && loc && chosen.length > plan.answers) {
    const prefix = Math.min(loc.family === 4 ? spread.v4Prefix : spread.v6Prefix, loc.sourcePrefix);
    const bucket = maskBytes(loc.bytes, prefix);
    const seed = fmix32(plan.keySeed ^ hashBytes(bucket));
    const among = chosen;
    chosen = [...among]
      .sort((a, b) => score(seed, b.seed, b.weight) - score(seed, a.seed, a.weight))
      .slice(0, plan.answers);
    scope = prefix;
    if (trace) trace.spread = { bucket: `${prefix}`, among: among.map((n) => n.id) };
  } else {
    chosen = chosen.slice(0, plan.answers);
  }
  if (trace) {
    const scores = fp.scores(plan.keySeed);
    const picked = new Set(chosen.map((n) => n.id));
    trace.candidates = [...order].map((i) => {
      const n = fp.nodes[i] as NodeEntry;
      return {
        node: n.id,
        healthy: n.healthy,
        drained: n.drained,
        weight: n.weight,
        score: scores[i] as number,
        picked: picked.has(n.id),
      };
    });
  }
  return { nodes: chosen, scope };
}

function rdataOf(nodes: readonly NodeEntry[], family: Family): Buffer[] {
  return nodes.map((n) => (family === 4 ? n.a : n.aaaa) as Buffer);
}

const ECS_OFF = 0;

/** Whether `p` has enough eligible nodes of `fp`'s family to answer (its minimum, at least one). */
const serves = (p: CompiledPool, fp: FamilyPool) => fp.eligible >= Math.max(1, p.minHealthy);

export function decide(
  index: GslbIndex,
  plan: DomainPlan,
  family: Family,
  loc: Location | undefined,
  trace?: DecisionTrace,
  clock?: HealthClock,
): Decision {
  let scope = 0;
  let failedOver = false;
  let firstMatched: CompiledPool | undefined;
  const allowed = (p: CompiledPool) => plan.pools === undefined || plan.pools.has(p.name);
  const fleet = plan.fleetKey === undefined ? undefined : index.fleets.get(plan.fleetKey);
  const defaultPool = fleet ?? index.defaultPool;
  const ecsScope = (extra: number) =>
    loc?.source === 'ecs' ? Math.min(Math.max(scope, extra), loc.family === 4 ? 32 : 128) : ECS_OFF;
  // The health bound over every pool consulted, folded as the steps look at them.
  const acc = clock ? newBoundAcc() : undefined;
  const consult = (fp: FamilyPool) => {
    if (acc && clock) foldPool(acc, clock.bounds.poolBound(fp));
  };

  /** The TTL, and what set it: the plan's, bounded by the consulted pools' health. */
  const ttlOf = (failover: boolean): BoundedTtl => {
    const base = failover ? plan.failoverTtl : plan.ttl;
    const by = failover ? 'failover' : 'domain';
    return acc && clock
      ? boundTtl(base, by, acc, clock)
      : { ttl: base, by, node: undefined, validUntil: Infinity };
  };

  /** The picks of `p`; with health ignored (fail-open) they are the last resort's. */
  const chosen = (
    step: DecisionKind,
    p: CompiledPool,
    fp: FamilyPool,
    ignoreHealth: boolean,
  ): Decision => {
    const picked = pickIn(plan, fp, loc, ignoreHealth, trace);
    const t = ttlOf(failedOver || ignoreHealth);
    return {
      family,
      rdata: rdataOf(picked.nodes, family),
      nodes: picked.nodes.map((n) => n.id),
      ttl: t.ttl,
      source: picked.nodes.length ? 'edges' : 'none',
      decision: step,
      pool: p.name,
      scope: picked.nodes.length ? ecsScope(picked.scope) : ECS_OFF,
      spread: picked.scope,
      ttlBy: t.by,
      ttlNode: t.node,
      validUntil: t.validUntil,
    };
  };

  const tryPools = (
    step: 'map' | ChainStep,
    pools: readonly CompiledPool[],
    looked: string,
  ): Decision | undefined => {
    const t = trace ? { step, looked, pools: [] as DecisionTrace['steps'][0]['pools'] } : undefined;
    if (t) trace?.steps.push(t);
    for (const p of pools) {
      if (!allowed(p) && p !== defaultPool) {
        t?.pools.push({ pool: p.name, verdict: 'skipped', reason: 'not one of the domain pools' });
        continue;
      }
      firstMatched ??= p;
      const fp = familyPool(p, family);
      consult(fp);
      if (fp.eligible < p.minHealthy) {
        failedOver = true;
        t?.pools.push({
          pool: p.name,
          verdict: 'skipped',
          reason: `${fp.eligible} eligible IPv${family} node(s) of ${fp.nodes.length}, needs ${p.minHealthy}`,
        });
        continue;
      }
      t?.pools.push({ pool: p.name, verdict: 'chosen', reason: `${fp.eligible} eligible` });
      return chosen(step, p, fp, false);
    }
    return undefined;
  };

  /**
   * The family step: every pool the domain may use, nearest first when the client and
   * the pools have coordinates (then the answer depends on the coordinates' prefix too),
   * the others in policy order, the default pool last. The first that `ok` accepts.
   */
  const familyStep = (
    ok: (p: CompiledPool, fp: FamilyPool) => boolean,
    looked: string,
  ): CompiledPool | undefined => {
    const t = trace
      ? { step: 'family' as const, looked, pools: [] as DecisionTrace['steps'][0]['pools'] }
      : undefined;
    if (t) trace?.steps.push(t);
    let pools: CompiledPool[] = [];
    const lat = loc?.lat;
    const lon = loc?.lon;
    const located = index.located.filter(allowed);
    if (lat !== undefined && lon !== undefined && located.length > 0) {
      const dist = (p: CompiledPool) => distanceKm(lat, lon, p.lat as number, p.lon as number);
      pools = located.sort((a, b) => dist(a) - dist(b));
    }
    for (const p of index.pools.values()) if (allowed(p) && !pools.includes(p)) pools.push(p);
    if (!pools.includes(defaultPool)) pools.push(defaultPool);
    for (const p of pools) {
      const fp = familyPool(p, family);
      consult(fp);
      if (ok(p, fp)) {
        if (lat !== undefined && lon !== undefined && located.includes(p))
          scope = Math.max(scope, loc?.coordPrefix ?? 0);
        t?.pools.push({ pool: p.name, verdict: 'chosen', reason: `${fp.eligible} eligible` });
        return p;
      }
      t?.pools.push({
        pool: p.name,
        verdict: 'skipped',
        reason: `${fp.eligible} eligible IPv${family} node(s) of ${fp.nodes.length}`,
      });
    }
    return undefined;
  };

  if (loc && index.nets.size > 0) {
    scope = loc.net.scope;
    const mapped = loc.net.entry?.pool;
    const pool = mapped === undefined ? undefined : index.pools.get(mapped);
    if (pool) {
      const d = tryPools('map', [pool], `${loc.net.entry?.cidr} -> pool ${mapped}`);
      if (d) return d;
    }
  }

  for (const step of plan.chain) {
    let pools: readonly CompiledPool[] = [];
    let looked: string;
    switch (step) {
      case 'asn':
        if (!loc || index.byAsn.size === 0) continue;
        scope = Math.max(scope, loc.asnPrefix);
        pools = loc.asn === undefined ? [] : (index.byAsn.get(loc.asn) ?? []);
        looked = loc.asn === undefined ? 'ASN unknown' : `AS${loc.asn}`;
        break;
      case 'country':
        if (!loc || index.byCountry.size === 0) continue;
        scope = Math.max(scope, loc.countryPrefix);
        pools = loc.country === undefined ? [] : (index.byCountry.get(loc.country) ?? []);
        looked = loc.country ?? 'country unknown';
        break;
      case 'continent':
        if (!loc || index.byContinent.size === 0) continue;
        scope = Math.max(scope, loc.continentPrefix);
        pools = loc.continent === undefined ? [] : (index.byContinent.get(loc.continent) ?? []);
        looked = loc.continent ?? 'continent unknown';
        break;
      case 'nearest': {
        if (!loc || index.located.length === 0) continue;
        const { lat, lon } = loc;
        scope = Math.max(scope, loc.coordPrefix);
        if (lat === undefined || lon === undefined) {
          looked = 'coordinates unknown';
          break;
        }
        const dist = (p: CompiledPool) => distanceKm(lat, lon, p.lat as number, p.lon as number);
        pools = [...index.located].sort((a, b) => dist(a) - dist(b));
        looked = `${lat.toFixed(2)},${lon.toFixed(2)} (${loc.coordsFrom})`;
        break;
      }
      case 'default':
        pools = [defaultPool];
        looked = 'default';
        break;
    }
    const d = tryPools(step, pools, looked);
    if (d) return d;
  }

  const mode = plan.lastResort;
  const origin = mode === 'backup' ? (family === 4 ? plan.fallbackA : plan.fallbackAAAA) : [];
  if (mode === 'fail-open') {
    const pool = firstMatched ?? defaultPool;
    const fp = familyPool(pool, family);
    if (fp.nodes.some((n) => !n.drained)) {
      if (trace) trace.lastResort = mode;
      return chosen('fallback', pool, fp, true);
    }
  }
  if (mode !== 'fail-closed' && origin.length === 0) {
    // Nothing of the family where this client's chain led: the nearest pool that has it.
    const p = familyStep(serves, `nearest pool with IPv${family}`);
    if (p) return chosen('family', p, familyPool(p, family), false);
    if (mode === 'fail-open') {
      const any = familyStep(
        (_p, fp) => fp.nodes.some((n) => !n.drained),
        `nearest pool with IPv${family}, health ignored`,
      );
      if (any) {
        if (trace) trace.lastResort = mode;
        return chosen('fallback', any, familyPool(any, family), true);
      }
    }
  }
  if (trace) trace.lastResort = mode;
  const t = ttlOf(true);
  return {
    family,
    rdata: origin,
    nodes: [],
    ttl: t.ttl,
    source: origin.length ? 'origin' : 'none',
    decision: 'fallback',
    pool: undefined,
    // A NODATA holds for every client (see the module comment).
    scope: origin.length ? ecsScope(0) : ECS_OFF,
    ttlBy: t.by,
    ttlNode: t.node,
    validUntil: t.validUntil,
  };
}
