// The GSLB decision for one base name, one address family and one client location: a
// pure function of the snapshot's pool index, the domain's plan and the location.
//   1. The CIDR map's pool, when the client's subnet is mapped to one.
//   2. The chain (default asn → country → continent → nearest → default): each step
//      yields pools in order; the first with at least `minHealthy` eligible nodes of the
//      family wins, and its first N nodes in the domain's rendezvous order are the picks.
//   3. The last resort: origin (backup) addresses, fail-open (picks with health ignored,
//      from the first pool the location matched), or fail-closed (nothing: NODATA).
// The ECS scope is the longest prefix among the facts the steps actually consulted, so
// it is exactly as wide as the data allows and /0 when no step looked at the client.
import { maskBytes } from '../lib/cidr.js';
import { distanceKm, type Location } from './location.js';
import type { GslbIndex } from './pools.js';
import type { ChainStep } from './policy-model.js';
import { fmix32, hashBytes, score } from './rendezvous.js';
import type { CompiledPool, DomainPlan, Family, FamilyPool, NodeEntry } from './plan.js';

export type DecisionKind = 'map' | ChainStep | 'fallback';

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
}

/** What explain collects; decide() fills it only when one is passed. */
export interface DecisionTrace {
  steps: {
    step: 'map' | ChainStep;
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

export function decide(
  index: GslbIndex,
  plan: DomainPlan,
  family: Family,
  loc: Location | undefined,
  trace?: DecisionTrace,
): Decision {
  let scope = 0;
  let failedOver = false;
  let firstMatched: CompiledPool | undefined;
  const allowed = (p: CompiledPool) => plan.pools === undefined || plan.pools.has(p.name);
  const fleet = plan.fleetKey === undefined ? undefined : index.fleets.get(plan.fleetKey);
  const defaultPool = fleet ?? index.defaultPool;
  const ecsScope = (extra: number) =>
    loc?.source === 'ecs' ? Math.min(Math.max(scope, extra), loc.family === 4 ? 32 : 128) : ECS_OFF;

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
      if (fp.eligible < p.minHealthy) {
        failedOver = true;
        t?.pools.push({
          pool: p.name,
          verdict: 'skipped',
          reason: `${fp.eligible} eligible IPv${family} node(s) of ${fp.nodes.length}, needs ${p.minHealthy}`,
        });
        continue;
      }
      const picked = pickIn(plan, fp, loc, false, trace);
      t?.pools.push({ pool: p.name, verdict: 'chosen', reason: `${fp.eligible} eligible` });
      return {
        family,
        rdata: rdataOf(picked.nodes, family),
        nodes: picked.nodes.map((n) => n.id),
        ttl: failedOver ? plan.failoverTtl : plan.ttl,
        source: 'edges',
        decision: step,
        pool: p.name,
        scope: ecsScope(picked.scope),
      };
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
  if (trace) trace.lastResort = mode;
  if (mode === 'fail-open') {
    const pool = firstMatched ?? defaultPool;
    const picked = pickIn(plan, familyPool(pool, family), loc, true, trace);
    return {
      family,
      rdata: rdataOf(picked.nodes, family),
      nodes: picked.nodes.map((n) => n.id),
      ttl: plan.failoverTtl,
      source: picked.nodes.length ? 'edges' : 'none',
      decision: 'fallback',
      pool: pool.name,
      scope: ecsScope(picked.scope),
    };
  }
  const origin = mode === 'backup' ? (family === 4 ? plan.fallbackA : plan.fallbackAAAA) : [];
  return {
    family,
    rdata: origin,
    nodes: [],
    ttl: plan.failoverTtl,
    source: origin.length ? 'origin' : 'none',
    decision: 'fallback',
    pool: undefined,
    scope: ecsScope(0),
  };
}
