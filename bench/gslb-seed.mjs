// The GSLB benchmark's data: a seed folder (N domains, M edge nodes in 10 pools, a policy
// whose pools cover countries and continents) and a country CSV for `cirrus geo build`,
// so Cirrus and gdnsd read one MaxMind-shaped .mmdb. Addresses: domains' origins from
// 198.18.0.0/15 (RFC 2544), nodes from 100.64.0.0/10 (never probed: probe type none).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Pool name, its countries (first is its "home"), continent, coordinates. */
export const POOLS = [
  ['fra', ['DE', 'AT', 'CH'], 'EU', 50.1, 8.7],
  ['lhr', ['GB', 'IE'], 'EU', 51.5, -0.1],
  ['cdg', ['FR', 'BE'], 'EU', 48.9, 2.4],
  ['iad', ['US'], 'NA', 38.9, -77.0],
  ['yyz', ['CA'], 'NA', 43.7, -79.4],
  ['gru', ['BR', 'AR'], 'SA', -23.5, -46.6],
  ['sin', ['SG', 'MY', 'ID'], 'AS', 1.35, 103.8],
  ['nrt', ['JP', 'KR'], 'AS', 35.7, 139.7],
  ['syd', ['AU', 'NZ'], 'OC', -33.9, 151.2],
  ['jnb', ['ZA', 'KE'], 'AF', -26.2, 28.0],
];

export const COUNTRIES = POOLS.flatMap((p) => p[1]);

/** Node i (1-based) → its IPv4 address and pool. */
export function nodeOf(i) {
  const pool = POOLS[(i - 1) % POOLS.length];
  return {
    id: `${pool[0]}-${i}`,
    pool: pool[0],
    ipv4: `100.64.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    ipv6: `2001:db8:${(i >> 8).toString(16)}::${(i & 0xff).toString(16)}`,
  };
}

export function writeGslbSeed(dir, nDomains, nNodes) {
  const domains = [];
  for (let i = 1; i <= nDomains; i++)
    domains.push({
      domain: `site-${i}.example.com`,
      origins: [
        { address: `198.18.${Math.floor(i / 256) % 256}.${i % 256}`, protocol: 'https', port: 443 },
      ],
    });
  const nodes = [];
  for (let i = 1; i <= nNodes; i++) {
    const n = nodeOf(i);
    nodes.push({ ...n, region: n.pool, weight: 100, probe: { type: 'none' } });
  }
  const pools = {};
  for (const [name, countries, , lat, lon] of POOLS)
    pools[name] = { countries, continents: [], lat, lon, minHealthy: 1 };
  // Each continent's first pool also covers the whole continent.
  for (const c of new Set(POOLS.map((p) => p[2])))
    pools[POOLS.find((p) => p[2] === c)[0]].continents.push(c);
  const policy = { pools, chain: ['country', 'continent', 'nearest', 'default'] };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'domains.json'), JSON.stringify(domains) + '\n');
  writeFileSync(join(dir, 'nodes.json'), JSON.stringify(nodes) + '\n');
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy) + '\n');
  writeFileSync(join(dir, 'records.zone'), '$TTL 3600\nstatus 300 IN A 198.51.100.10\n');
}

/**
 * first,last,country rows: every /12 of 1.0.0.0–223.255.255.255 gets one of the pools'
 * countries in turn (81.2.69.0/24, dnsperf's ECS example, lands in one of them).
 */
export function writeCountryCsv(file) {
  const rows = [];
  let k = 0;
  for (let a = 1; a <= 223; a++) {
    if (a === 127) continue;
    for (let b = 0; b < 256; b += 16) {
      rows.push(`${a}.${b}.0.0,${a}.${b + 15}.255.255,${COUNTRIES[k++ % COUNTRIES.length]}`);
    }
  }
  writeFileSync(file, rows.join('\n') + '\n');
  return rows.length;
}
