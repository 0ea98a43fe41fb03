// The fixed server state the wire-output golden set is recorded against: config overrides,
// seed files (policy, nodes, domains, static records) and the pinned SOA serial. Every input
// that shapes an answer is written here, so a run today and a run next year see the same zone.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AcmeTxt } from '../../src/model/acme.js';

export const ZONE = 'cdn.example.net';

/**
 * The SOA serial the store holds before the first build, with a content hash no build
 * produces: the first build then publishes PINNED_SERIAL + 1. The unix-time floor of
 * `nextSerial` stays behind it (RFC 1982) until 2034, so the serial never follows the clock.
 */
export const PINNED_SERIAL = 2026120300;
export const PIN_HASH = 'wire-golden-pin';

/** Config overrides for startCirrus; geo databases are added by the caller. */
export function goldenConfig(seedDir: string, geoFiles: string[]): Record<string, unknown> {
  return {
    seed: { dir: seedDir },
    zone: {
      name: ZONE,
      ttl: 3600,
      soa: { mname: `ns1.${ZONE}`, rname: `hostmaster.${ZONE}` },
      ns: [
        { name: `ns1.${ZONE}`, ipv4: ['192.0.2.53'], ipv6: ['2001:db8::53'] },
        { name: 'ns2.example.org', ipv4: [], ipv6: [] },
      ],
    },
    // NSID and the CHAOS identity default to the host name: pinned.
    dns: { nsid: 'golden-ns1', chaos: { version: 'Cirrus GSLB', identity: 'golden.example' } },
    geo: { databases: geoFiles, watchIntervalMs: 3600000 },
    gslb: { ttl: 60, failoverTtl: 20, answers: 1 },
    acme: { issuer: { enabled: false } },
  };
}

const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'], minHealthy: 2 },
    hkg: { lat: 22.32, lon: 114.17, countries: ['HK'], continents: ['AS'] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
    peer: { asns: [64504] },
    // Every node of lon is inactive: the pool is skipped, domains bound to it fall back.
    lon: { lat: 51.5, lon: -0.12, countries: ['GB'] },
  },
  chain: ['asn', 'country', 'continent', 'nearest', 'default'],
  defaultPool: 'iad',
  lastResort: 'backup',
  nets: [
    { cidr: '10.1.0.0/16', pool: 'hkg' },
    { cidr: '2001:db8:77::/48', country: 'DE' },
  ],
};

const probe = { type: 'none' };
const NODES = [
  { id: 'fra-1', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11', pool: 'fra', probe },
  { id: 'fra-2', ipv4: '192.0.2.12', ipv6: '2001:db8:1::12', pool: 'fra', probe },
  { id: 'fra-3', ipv4: '192.0.2.13', pool: 'fra', active: false, probe },
  { id: 'hkg-1', ipv4: '192.0.2.21', ipv6: '2001:db8:2::21', pool: 'hkg', probe },
  { id: 'hkg-2', ipv6: '2001:db8:2::22', pool: 'hkg', weight: 50, probe },
  { id: 'iad-1', ipv4: '192.0.2.31', pool: 'iad', weight: 200, probe },
  { id: 'iad-2', ipv4: '192.0.2.32', ipv6: '2001:db8:3::32', pool: 'iad', probe },
  { id: 'iad-3', ipv4: '192.0.2.33', ipv6: '2001:db8:3::33', pool: 'iad', active: false, probe },
  { id: 'iad-4', ipv4: '192.0.2.34', pool: 'iad', mode: 'drain', probe },
  { id: 'peer-1', ipv4: '192.0.2.41', pool: 'peer', probe },
  { id: 'lon-1', ipv4: '192.0.2.51', ipv6: '2001:db8:5::51', pool: 'lon', active: false, probe },
];

const origins = [
  { address: '203.0.113.1' },
  { address: '203.0.113.2', backup: true },
  { address: '2001:db8:ff::2', backup: true },
];

const DOMAINS = [
  { domain: 'www.example.com', origins },
  { domain: 'shop.example.com', origins, answers: 2, ttl: 120 },
  { domain: 'spread.example.com', origins, spread: { nodes: 3 } },
  { domain: 'noecs.example.com', origins, ecs: false, answers: 3 },
  { domain: 'eu-only.example.org', origins, pools: ['fra'] },
  { domain: 'lon-backup.example.org', origins, pools: ['lon'] },
  { domain: 'lon-open.example.org', origins, pools: ['lon'], lastResort: 'fail-open' },
  { domain: 'lon-closed.example.org', origins, pools: ['lon'], lastResort: 'fail-closed' },
  { domain: 'by-country.example.net', origins, chain: ['country', 'default'], ttl: 30 },
  { domain: 'my-site.example.com', origins: [{ address: '198.51.100.200' }] },
];

/** The customer names the seed creates, in the order above. */
export const DOMAIN_NAMES = DOMAINS.map((d) => d.domain);

/**
 * The base name a domain is expected to answer under (the readable label form); the test
 * checks it against the running server before asking anything.
 */
export function baseName(domain: string): string {
  return `${domain.replace(/-/g, '--').replace(/\./g, '-')}.${ZONE}`;
}

const TXT_CHUNK = 'golden-padding-'.repeat(7);
const RECORDS = `$TTL 3600
@              IN TXT   "v=spf1 -all"
@              IN CAA   0 issue "letsencrypt.org"
@              IN MX    10 mail
mail           300 IN A 198.51.100.25
mail           300 IN AAAA 2001:db8::25
status         300 IN A 198.51.100.10
status         300 IN AAAA 2001:db8::10
www            IN CNAME status
edge           IN CNAME www-example-com
shop-alias     IN CNAME shop-example-com.${ZONE}.
chain1         IN CNAME chain2
chain2         IN CNAME edge
external       IN CNAME target.example.org.
_dmarc         IN TXT   "v=DMARC1; p=reject"
_sip._tcp      IN SRV   10 60 5060 mail
ptr            IN PTR   status
sub            IN NS    ns.sub.example.org.
*.wild         60 IN A 198.51.100.77
*.wild         60 IN TXT "wildcard"
opaque         IN TYPE65534 \\# 4 deadbeef
${Array.from({ length: 24 }, (_, i) => `big            IN TXT "${String(i).padStart(2, '0')}-${TXT_CHUNK}"`).join('\n')}
${Array.from({ length: 40 }, (_, i) => `many           IN A 198.51.100.${100 + i}`).join('\n')}
`;

/** acme-dns style challenge values, stored before start with an expiry far ahead. */
export const ACME_TXT: AcmeTxt[] = [
  {
    name: '_acme-challenge.www.example.com',
    value: 'golden-challenge-value-0123456789abcdefghijk',
    expiresAt: Date.UTC(2099, 0, 1),
  },
  {
    name: 'd420c923-bbd7-4056-ab64-c3ca54c9b3cf',
    value: 'golden-acme-dns-value-0123456789abcdefghijkl',
    expiresAt: Date.UTC(2099, 0, 1),
  },
];

export function writeSeed(dir: string): void {
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY, null, 2));
  writeFileSync(join(dir, 'nodes.json'), JSON.stringify(NODES, null, 2));
  writeFileSync(join(dir, 'domains.json'), JSON.stringify(DOMAINS, null, 2));
  writeFileSync(join(dir, 'records.zone'), RECORDS);
}
