// The GSLB bench's large store (bench/gslb-seed.mjs: N domains with one origin each, M nodes
// in 10 pools, the country/continent policy) as a StoreState parsed from JSON, as the
// embedded store holds it after reading its file. Shared by the memory benches.
import { assignLabel } from '../src/gslb/base-label.js';
import type { StoreState } from '../src/snapshot/source.js';
// @ts-expect-error: a plain .mjs helper without types
import { POOLS, nodeOf } from './gslb-seed.mjs';

type PoolRow = [string, string[], string, number, number];

/** The state the seed folder of bench/gslb-seed.mjs becomes, round-tripped through JSON. */
export function largeState(domainCount: number, nodeCount: number): StoreState {
  const createdAt = new Date('2026-12-01T00:00:00.000Z').getTime();
  const domains = [];
  for (let i = 1; i <= domainCount; i++) {
    const domain = `site-${i}.example.com`;
    domains.push({
      domain,
      label: assignLabel(domain, () => false),
      origins: [
        {
          address: `198.18.${Math.floor(i / 256) % 256}.${i % 256}`,
          protocol: 'https',
          port: 443,
          weight: 1,
          backup: false,
        },
      ],
      // The seed stamps each domain as it writes it: a few share a millisecond.
      createdAt: new Date(createdAt + Math.floor(i / 4)).toISOString(),
      updatedAt: new Date(createdAt + Math.floor(i / 4)).toISOString(),
    });
  }
  const nodes = [];
  for (let i = 1; i <= nodeCount; i++) {
    const n = (nodeOf as (i: number) => { id: string; pool: string; ipv4: string; ipv6: string })(
      i,
    );
    nodes.push({ ...n, weight: 100, active: true });
  }
  const pools: Record<string, unknown> = {};
  for (const [name, countries, , lat, lon] of POOLS as PoolRow[])
    pools[name] = { countries, continents: [], asns: [], lat, lon, minHealthy: 1 };
  for (const c of new Set((POOLS as PoolRow[]).map((p) => p[2]))) {
    const first = (POOLS as PoolRow[]).find((p) => p[2] === c) as PoolRow;
    (pools[first[0]] as { continents: string[] }).continents.push(c);
  }
  const policy = {
    pools,
    chain: ['country', 'continent', 'nearest', 'default'],
    defaultPool: null,
    lastResort: 'backup',
    nets: [],
    loadBound: null,
  };
  return JSON.parse(
    JSON.stringify({
      domains,
      nodes,
      zoneText: '$TTL 3600\nstatus 300 IN A 198.51.100.10\n',
      policy,
    }),
  ) as StoreState;
}
