// A benchmark seed folder for Cirrus (the layout src/domains/seed.ts reads): N domains
// `site-N.example.com` with one IPv4 origin each, edge nodes with IPv4 + IPv6 spread over
// a few pools, and a small records.zone.
// CLI: node bench/gen-seed.mjs DIR [DOMAINS=1000] [NODES=20]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const POOLS = ['fra', 'iad', 'sin', 'gru'];

export function writeSeed(dir, nDomains = 1000, nNodes = 20) {
  const domains = [];
  for (let i = 1; i <= nDomains; i++) {
    // Origins from 198.18.0.0/15, the RFC 2544 benchmarking range.
    domains.push({
      domain: `site-${i}.example.com`,
      origins: [
        { address: `198.18.${Math.floor(i / 256)}.${i % 256}`, protocol: 'https', port: 443 },
      ],
    });
  }
  const nodes = [];
  for (let i = 1; i <= nNodes; i++) {
    const pool = POOLS[(i - 1) % POOLS.length];
    nodes.push({
      id: `${pool}-${i}`,
      ipv4: `192.0.2.${i}`,
      ipv6: `2001:db8::${i.toString(16)}`,
      pool,
      region: pool,
      weight: 100,
      // Documentation addresses nobody serves: health is fixed, not probed.
      probe: { type: 'none' },
    });
  }
  const records = [
    '; static records of the benchmark zone',
    '$TTL 3600',
    'status 300 IN A 198.51.100.10',
    'status 300 IN AAAA 2001:db8::10',
    '',
  ];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'domains.json'), JSON.stringify(domains, null, 1) + '\n');
  writeFileSync(join(dir, 'nodes.json'), JSON.stringify(nodes, null, 1) + '\n');
  writeFileSync(join(dir, 'records.zone'), records.join('\n'));
  return { domains: domains.length, nodes: nodes.length };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, d = '1000', n = '20'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node bench/gen-seed.mjs DIR [DOMAINS] [NODES]');
    process.exit(2);
  }
  const r = writeSeed(dir, Number(d), Number(n));
  console.log(`${dir}: ${r.domains} domains, ${r.nodes} nodes`);
}
