// Compiles the policy document and the node list into the pool index a snapshot carries:
// every pool (declared or only named by nodes), the coverage indices the chain steps
// read (ASN, country, continent, coordinates), the default pool and the CIDR map.
import { DEFAULT_CHAIN, type ChainStep, type GslbPolicy, type LastResort } from './policy-model.js';
import {
  FamilyPool,
  type CompiledPool,
  type DomainPlan,
  type LoadDemand,
  type NodeEntry,
  type OrderMemos,
} from './plan.js';
import { NetMap } from './net-map.js';

/**
 * What GSLB answering and explaining read of a snapshot (snapshot/snapshot.ts satisfies it):
 * the pools and the domains' plans by base name.
 */
export interface GslbView {
  readonly serial: number;
  readonly gslb: GslbIndex;
  /** Base name → plan. */
  readonly plans: ReadonlyMap<string, DomainPlan>;
}

export interface GslbIndex {
  /** Declared pools in policy order, then pools only named by nodes (by name). */
  readonly pools: ReadonlyMap<string, CompiledPool>;
  /** Every node: the default step's pool when the policy names none. */
  readonly fleet: CompiledPool;
  /**
   * The default step's pool of domains limited to some pools (DomainPlan.fleetKey → their
   * nodes together); filled by the snapshot build for the keys its plans use.
   */
  readonly fleets: Map<string, CompiledPool>;
  readonly defaultPool: CompiledPool;
  readonly byAsn: ReadonlyMap<number, readonly CompiledPool[]>;
  readonly byCountry: ReadonlyMap<string, readonly CompiledPool[]>;
  readonly byContinent: ReadonlyMap<string, readonly CompiledPool[]>;
  /** Pools with coordinates, for the 'nearest' step. */
  readonly located: readonly CompiledPool[];
  readonly chain: readonly ChainStep[];
  readonly lastResort: LastResort;
  readonly nets: NetMap;
  readonly loadBound: number | null;
}

export const DEFAULT_POLICY: GslbPolicy = {
  pools: {},
  chain: [...DEFAULT_CHAIN],
  defaultPool: null,
  lastResort: 'backup',
  nets: [],
  loadBound: null,
};

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Throws (naming the field) when the policy cannot be compiled; problems that only weaken it become warnings. */
export function compileGslb(
  policy: GslbPolicy,
  nodes: readonly NodeEntry[],
  demand: readonly LoadDemand[],
  warnings: string[],
  memos?: OrderMemos,
): GslbIndex {
  const bound = policy.loadBound;
  const pool = (name: string, members: readonly NodeEntry[]): CompiledPool => {
    const spec = policy.pools[name];
    return {
      name,
      lat: spec?.lat,
      lon: spec?.lon,
      minHealthy: spec?.minHealthy ?? 1,
      v4: new FamilyPool(
        4,
        members.filter((n) => n.a),
        bound,
        demand,
        memos,
      ),
      v6: new FamilyPool(
        6,
        members.filter((n) => n.aaaa),
        bound,
        demand,
        memos,
      ),
    };
  };
  const members = new Map<string, NodeEntry[]>();
  for (const n of nodes) push(members, n.pool, n);
  const names = [
    ...Object.keys(policy.pools),
    ...[...members.keys()].filter((n) => !(n in policy.pools)).sort(),
  ];
  const pools = new Map<string, CompiledPool>();
  for (const name of names) {
    if (!members.has(name)) warnings.push(`pool ${name} has no nodes`);
    pools.set(name, pool(name, members.get(name) ?? []));
  }

  const byAsn = new Map<number, CompiledPool[]>();
  const byCountry = new Map<string, CompiledPool[]>();
  const byContinent = new Map<string, CompiledPool[]>();
  const located: CompiledPool[] = [];
  for (const [name, spec] of Object.entries(policy.pools)) {
    const p = pools.get(name) as CompiledPool;
    for (const asn of spec.asns) push(byAsn, asn, p);
    for (const c of spec.countries) push(byCountry, c.toUpperCase(), p);
    for (const c of spec.continents) push(byContinent, c, p);
    if ((spec.lat === undefined) !== (spec.lon === undefined))
      throw new Error(`pools.${name}: give both lat and lon, or neither`);
    if (spec.lat !== undefined) located.push(p);
  }

  const fleet = pool('*', nodes);
  let defaultPool = fleet;
  if (policy.defaultPool !== null) {
    const p = pools.get(policy.defaultPool);
    if (!p)
      throw new Error(`defaultPool: pool ${policy.defaultPool} is not declared and has no nodes`);
    defaultPool = p;
  }
  let nets: NetMap;
  try {
    nets = new NetMap(policy.nets);
  } catch (err) {
    throw new Error((err as Error).message);
  }
  policy.nets.forEach((m, i) => {
    if (m.pool !== undefined && !pools.has(m.pool))
      warnings.push(
        `nets[${i}] maps ${m.cidr} to pool ${m.pool}, which is not declared and has no nodes`,
      );
  });
  return {
    pools,
    fleet,
    fleets: new Map(),
    defaultPool,
    byAsn,
    byCountry,
    byContinent,
    located,
    chain: policy.chain,
    lastResort: policy.lastResort,
    nets,
    loadBound: bound,
  };
}
