// The answer phase as dig shows it: each case is a question (name, type, class, client,
// ECS, DO) and the reply's records written as zone-file text, run through the real query
// path (decode → pipeline stages in order.ts via the runner → encode) over a snapshot built
// from zone text and a small fleet, and read back with dns2's decoder (an independent
// implementation of the wire format). CoreDNS's plugin/test case tables are the model.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { finishConfig } from '../../src/config/load.js';
import { validate } from '../../src/config/validate.js';
import { GslbPolicy } from '../../src/gslb/policy-model.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { Domain, EdgeNode } from '../../src/model/domain.js';
import { createHandler } from '../../src/pipeline/order.js';
import { dnsMetrics } from '../../src/pipeline/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { parseCidr } from '../../src/lib/cidr.js';
import { tableGeo } from '../helpers/table-geo.js';
import { buildQuery, ecsOption, parseReply } from '../helpers/wire.js';

const config = finishConfig({});
const ZONE = config.zone.name; // cdn.example.net
const NOW = 1_800_000_000_000;

// Clients by resolver address: DE, HK, US, FR (EU by continent only), BR, the peer ASN.
const GEO = tableGeo([
  { cidr: '198.51.100.0/24', country: 'DE', continent: 'EU', asn: 64501 },
  { cidr: '203.0.113.0/24', country: 'HK', continent: 'AS', asn: 64502 },
  { cidr: '192.0.2.0/25', country: 'US', continent: 'NA', asn: 64503 },
  { cidr: '172.16.0.0/12', country: 'FR', continent: 'EU', asn: 64506 },
  { cidr: '10.0.0.0/8', country: 'BR', continent: 'SA', asn: 64505 },
  { cidr: '100.64.0.0/10', country: 'JP', continent: 'AS', asn: 64504 },
  { cidr: '2001:db8:de::/48', country: 'DE', continent: 'EU' },
]);

const POLICY = {
  chain: ['asn', 'country', 'continent', 'default'],
  defaultPool: 'iad',
  pools: {
    fra: { countries: ['DE'], continents: ['EU'] },
    hkg: { countries: ['HK'], continents: ['AS'] },
    iad: { countries: ['US'], continents: ['NA'] },
    peer: { asns: [64504] },
    sao: { countries: ['BR'], minHealthy: 2 },
    lab: {},
    dead: {},
  },
  // The operator's map wins over GeoIP: this part of the US range answers from the lab.
  nets: [{ cidr: '192.0.2.64/26', pool: 'lab' }],
};

/** One node per pool (two in sao, one of them down), so every pick reads off the table. */
const NODES: EdgeNode[] = [
  {
    id: 'fra-1',
    pool: 'fra',
    ipv4: '198.18.1.1',
    ipv6: '2001:db8:f::1',
    weight: 100,
    active: true,
  },
  { id: 'hkg-1', pool: 'hkg', ipv4: '198.18.2.1', weight: 100, active: true },
  {
    id: 'iad-1',
    pool: 'iad',
    ipv4: '198.18.3.1',
    ipv6: '2001:db8:3::1',
    weight: 100,
    active: true,
  },
  { id: 'peer-1', pool: 'peer', ipv4: '198.18.4.1', weight: 100, active: true },
  { id: 'lab-1', pool: 'lab', ipv4: '198.18.5.1', weight: 100, active: true },
  { id: 'sao-1', pool: 'sao', ipv4: '198.18.6.1', weight: 100, active: true },
  { id: 'sao-2', pool: 'sao', ipv4: '198.18.6.2', weight: 100, active: false },
  { id: 'dead-1', pool: 'dead', ipv4: '198.18.7.1', weight: 100, active: false },
];

function domain(name: string, extra: Partial<Domain> = {}): Domain {
  return {
    domain: name,
    label: name.replace(/\./g, '-'),
    origins: [{ address: '203.0.113.200', protocol: 'http', weight: 1, backup: false }],
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...extra,
  };
}

const DOMAINS: Domain[] = [
  domain('www.example.com'),
  domain('short.example.com', { ttl: 30 }),
  domain('noecs.example.com', { ecs: false }),
  // Only the dead pool: nothing healthy, so the origin answers (last resort 'backup').
  domain('backup.example.com', { pools: ['dead'] }),
  domain('host.example.com', {
    pools: ['dead'],
    origins: [{ address: 'origin.example.org', protocol: 'https', weight: 1, backup: false }],
  }),
];

const ZONE_TEXT = `
$TTL 300
status      IN A     198.51.100.10
status      IN AAAA  2001:db8::10
alias       IN CNAME www-example-com.${ZONE}.
mail        IN MX    10 mx.example.org.
txt         IN TXT   "hello world"
sub         IN NS    ns.sub
ns.sub      IN A     198.51.100.53
`;

const snapshot = buildSnapshot({
  config,
  state: {
    domains: DOMAINS,
    nodes: NODES,
    zoneText: ZONE_TEXT,
    policy: validate(GslbPolicy, structuredClone(POLICY), 'policy'),
    acmeTxt: [
      {
        name: 'd420c923-bbd7',
        value: 'LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo',
        expiresAt: NOW + 3600_000,
      },
      { name: 'expired', value: 'gone', expiresAt: NOW - 1 },
    ],
  },
  generation: 1,
  serial: 2026120301,
  contentHash: 'answer-stages',
  now: NOW,
});

const handler = createHandler({
  snapshot: () => snapshot,
  settings: {
    version: Buffer.from('\x0bcirrus-test', 'latin1'),
    identity: Buffer.from('\x05edge1', 'latin1'),
    geo: GEO,
    debug: null,
    onDecision: () => undefined,
  },
  udpSize: 1232,
  nsid: undefined,
  metrics: dnsMetrics(new Registry()),
  logger: silentLogger(),
  // Every case is answered by the stages, never from a cached reply.
  answerCache: false,
});

const TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, ANY: 255 } as const;
type TypeName = keyof typeof TYPES;
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPES).map(([k, v]) => [v, k]));
const CLASSES = { IN: 1, CH: 3 } as const;
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

interface Case {
  /** What the case pins. */
  name: string;
  qname: string;
  qtype: TypeName;
  qclass?: keyof typeof CLASSES;
  /** The resolver's address (the query's source). */
  client: string;
  /** ECS client subnet (RFC 7871) the resolver sends, as a CIDR. */
  ecs?: string;
  do?: boolean;
  rcode: (typeof RCODES)[number];
  /** The AA flag; by default set on every answer but REFUSED. */
  aa?: boolean;
  answer: string[];
  /** Compared always: an empty authority section is part of the expectation. */
  authority?: string[];
  /** Compared when given (OPT left out). */
  additional?: string[];
  /** The ECS scope prefix of the reply, when given. */
  scope?: number;
}

// `any`: dns2's decoded records are untyped; each field read here is the one dns2 documents.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dns2Record = any;

/** A decoded record as one zone-file line, as `dig +noall +answer` prints it. */
function text(r: Dns2Record): string {
  const type = TYPE_NAMES.get(r.type) ?? `TYPE${r.type}`;
  const cls = r.class === CLASSES.CH ? 'CH' : r.class === CLASSES.IN ? 'IN' : `CLASS${r.class}`;
  let rdata: string;
  switch (r.type) {
    case TYPES.A:
      rdata = r.address;
      break;
    case TYPES.AAAA:
      // The URL parser writes an IPv6 address in its canonical text form (RFC 5952).
      rdata = new URL(`http://[${r.address}]/`).hostname.slice(1, -1);
      break;
    case TYPES.NS:
      rdata = `${r.ns}.`;
      break;
    case TYPES.CNAME:
      rdata = `${r.domain}.`;
      break;
    case TYPES.MX:
      rdata = `${r.priority} ${r.exchange}.`;
      break;
    case TYPES.TXT:
      rdata = (r.data as string[]).map((s) => JSON.stringify(s)).join(' ');
      break;
    case TYPES.SOA:
      rdata = `${r.primary}. ${r.admin}. ${r.serial} ${r.refresh} ${r.retry} ${r.expiration} ${r.minimum}`;
      break;
    default:
      throw new Error(`no text form for type ${r.type}`);
  }
  return `${r.name}. ${r.ttl} ${cls} ${type} ${rdata}`;
}

function ask(c: Case): Dns2Record {
  let options: Array<{ code: number; data: Buffer }> = [];
  if (c.ecs) {
    const net = parseCidr(c.ecs);
    const bytes = [...net.bytes.subarray(0, Math.ceil(net.prefix / 8))];
    options = [ecsOption(net.family === 4 ? 1 : 2, net.prefix, 0, bytes)];
  }
  const msg = buildQuery({
    name: c.qname,
    type: TYPES[c.qtype],
    cls: CLASSES[c.qclass ?? 'IN'],
    opt: { udp: 1232, do: c.do ?? false, options },
  });
  const reply = handler(msg, 'udp', c.client, 5353);
  assert.ok(Buffer.isBuffer(reply), 'a reply on the spot');
  const parsed = parseReply(reply);
  assert.deepEqual(parsed.errors, [], 'dns2 decodes the whole reply');
  return parsed;
}

const SOA =
  'cdn.example.net. 3600 IN SOA ns1.cdn.example.net. hostmaster.cdn.example.net. 2026120301 3600 600 1209600 60';
/** The negative answer's SOA: the TTL is min(SOA TTL, minimum) (RFC 2308 §3). */
const NEG =
  'cdn.example.net. 60 IN SOA ns1.cdn.example.net. hostmaster.cdn.example.net. 2026120301 3600 600 1209600 60';
/** A GSLB decision's empty answer: negative TTL no longer than the decision's (failover 20). */
const NEG_GSLB = NEG.replace(' 60 IN SOA', ' 20 IN SOA');

const DE = '198.51.100.7';
const HK = '203.0.113.9';
const US = '192.0.2.10';
const FR = '172.16.5.5';
const BR = '10.1.2.3';
const PEER = '100.64.1.1';
const LAB = '192.0.2.70';
const NOWHERE = '192.0.2.200';

const CASES: Case[] = [
  // GSLB: a base name answers with the first pool of the chain the client's location matches.
  {
    name: 'GSLB A by country: DE resolver → fra',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.1.1'],
  },
  {
    name: 'GSLB AAAA by country: DE resolver → fra',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'AAAA',
    client: DE,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN AAAA 2001:db8:f::1'],
  },
  {
    name: 'GSLB A by country: HK resolver → hkg',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: HK,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.2.1'],
  },
  {
    name: 'GSLB AAAA where the chosen pool has no IPv6: the next pool that has it answers',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'AAAA',
    client: HK,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 20 IN AAAA 2001:db8:3::1'],
  },
  {
    name: 'GSLB A by country: US resolver → iad',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: US,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.3.1'],
  },
  {
    name: 'GSLB A by continent: FR is no pool country, EU is fra continent',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: FR,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.1.1'],
  },
  {
    name: 'GSLB A by ASN: AS64504 → peer, ahead of its country and continent',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: PEER,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.4.1'],
  },
  {
    name: 'GSLB A by the operator map: 192.0.2.64/26 → lab, over GeoIP (US)',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: LAB,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.5.1'],
  },
  {
    name: 'GSLB A by default: an unknown location → the default pool (iad)',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: NOWHERE,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.3.1'],
  },
  {
    name: 'GSLB minHealthy: sao (1 of 2 healthy) is skipped, the default answers with the failover TTL',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: BR,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 20 IN A 198.18.3.1'],
  },
  {
    name: 'GSLB per-domain TTL',
    qname: 'short-example-com.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: ['short-example-com.cdn.example.net. 30 IN A 198.18.1.1'],
  },
  {
    name: 'GSLB last resort: no healthy node in the domain pools → the origin address',
    qname: 'backup-example-com.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: ['backup-example-com.cdn.example.net. 20 IN A 203.0.113.200'],
  },
  {
    name: 'GSLB last resort without an IPv6 origin: NODATA',
    qname: 'backup-example-com.cdn.example.net',
    qtype: 'AAAA',
    client: DE,
    rcode: 'NOERROR',
    answer: [],
    authority: [NEG_GSLB],
  },
  {
    name: 'GSLB last resort with a host-name origin: a CNAME to it',
    qname: 'host-example-com.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: ['host-example-com.cdn.example.net. 20 IN CNAME origin.example.org.'],
  },
  {
    name: 'GSLB NODATA for MX at a base name',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'MX',
    client: DE,
    rcode: 'NOERROR',
    answer: [],
    authority: [NEG],
  },
  {
    name: 'GSLB NODATA for TXT at a base name',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'TXT',
    client: DE,
    rcode: 'NOERROR',
    answer: [],
    authority: [NEG],
  },
  {
    name: 'GSLB with the DO bit: the same answer',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: DE,
    do: true,
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.1.1'],
  },

  // ECS (RFC 7871): the subnet locates the client; the scope says how far the answer holds.
  {
    name: 'ECS: a DE subnet behind an unknown resolver → fra, scope /24',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'A',
    client: NOWHERE,
    ecs: '198.51.100.0/24',
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN A 198.18.1.1'],
    scope: 24,
  },
  {
    name: 'ECS: an IPv6 DE subnet → fra, scope /48',
    qname: 'www-example-com.cdn.example.net',
    qtype: 'AAAA',
    client: US,
    ecs: '2001:db8:de::/64',
    rcode: 'NOERROR',
    answer: ['www-example-com.cdn.example.net. 60 IN AAAA 2001:db8:f::1'],
    scope: 48,
  },
  {
    name: 'ECS off for the domain: the resolver locates, scope /0',
    qname: 'noecs-example-com.cdn.example.net',
    qtype: 'A',
    client: US,
    ecs: '198.51.100.0/24',
    rcode: 'NOERROR',
    answer: ['noecs-example-com.cdn.example.net. 60 IN A 198.18.3.1'],
    scope: 0,
  },
  {
    name: 'ECS: a static answer does not depend on the client, scope /0',
    qname: 'status.cdn.example.net',
    qtype: 'A',
    client: NOWHERE,
    ecs: '198.51.100.0/24',
    rcode: 'NOERROR',
    answer: ['status.cdn.example.net. 300 IN A 198.51.100.10'],
    scope: 0,
  },

  // Static records from the zone text.
  {
    name: 'static A',
    qname: 'status.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: ['status.cdn.example.net. 300 IN A 198.51.100.10'],
  },
  {
    name: 'static AAAA',
    qname: 'status.cdn.example.net',
    qtype: 'AAAA',
    client: DE,
    rcode: 'NOERROR',
    answer: ['status.cdn.example.net. 300 IN AAAA 2001:db8::10'],
  },
  {
    name: 'static NODATA: a name without the type',
    qname: 'status.cdn.example.net',
    qtype: 'MX',
    client: DE,
    rcode: 'NOERROR',
    answer: [],
    authority: [NEG],
  },
  {
    name: 'static MX',
    qname: 'mail.cdn.example.net',
    qtype: 'MX',
    client: DE,
    rcode: 'NOERROR',
    answer: ['mail.cdn.example.net. 300 IN MX 10 mx.example.org.'],
  },
  {
    name: 'static TXT',
    qname: 'txt.cdn.example.net',
    qtype: 'TXT',
    client: DE,
    rcode: 'NOERROR',
    answer: ['txt.cdn.example.net. 300 IN TXT "hello world"'],
  },
  {
    name: 'static CNAME chained to a base name, answered for the client (DE)',
    qname: 'alias.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: [
      'alias.cdn.example.net. 300 IN CNAME www-example-com.cdn.example.net.',
      'www-example-com.cdn.example.net. 60 IN A 198.18.1.1',
    ],
  },
  {
    name: 'static CNAME chained to a base name, answered for the client (HK)',
    qname: 'alias.cdn.example.net',
    qtype: 'A',
    client: HK,
    rcode: 'NOERROR',
    answer: [
      'alias.cdn.example.net. 300 IN CNAME www-example-com.cdn.example.net.',
      'www-example-com.cdn.example.net. 60 IN A 198.18.2.1',
    ],
  },
  {
    name: 'static CNAME chained to a base name without the type: the CNAME and NODATA',
    qname: 'alias.cdn.example.net',
    qtype: 'MX',
    client: DE,
    rcode: 'NOERROR',
    answer: ['alias.cdn.example.net. 300 IN CNAME www-example-com.cdn.example.net.'],
    authority: [NEG],
  },
  {
    name: 'static CNAME asked for itself',
    qname: 'alias.cdn.example.net',
    qtype: 'CNAME',
    client: DE,
    rcode: 'NOERROR',
    answer: ['alias.cdn.example.net. 300 IN CNAME www-example-com.cdn.example.net.'],
  },
  {
    name: 'delegation: a referral with glue, not authoritative',
    qname: 'x.sub.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    aa: false,
    answer: [],
    authority: ['sub.cdn.example.net. 300 IN NS ns.sub.cdn.example.net.'],
    additional: ['ns.sub.cdn.example.net. 300 IN A 198.51.100.53'],
  },

  // The apex, from the config.
  {
    name: 'apex SOA',
    qname: 'cdn.example.net',
    qtype: 'SOA',
    client: DE,
    rcode: 'NOERROR',
    answer: [SOA],
  },
  {
    name: 'apex NS with the in-zone name server address',
    qname: 'cdn.example.net',
    qtype: 'NS',
    client: DE,
    rcode: 'NOERROR',
    answer: ['cdn.example.net. 3600 IN NS ns1.cdn.example.net.'],
    additional: ['ns1.cdn.example.net. 3600 IN A 127.0.0.1'],
  },
  {
    name: 'apex NODATA for A',
    qname: 'cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: [],
    authority: [NEG],
  },
  {
    name: 'name server address',
    qname: 'ns1.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NOERROR',
    answer: ['ns1.cdn.example.net. 3600 IN A 127.0.0.1'],
  },

  // Names that do not exist, and names that are not ours.
  {
    name: 'NXDOMAIN with the SOA in authority',
    qname: 'nope.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NXDOMAIN',
    answer: [],
    authority: [NEG],
  },
  {
    name: 'NXDOMAIN under a base name',
    qname: 'deeper.www-example-com.cdn.example.net',
    qtype: 'A',
    client: DE,
    rcode: 'NXDOMAIN',
    answer: [],
    authority: [NEG],
  },
  {
    name: 'REFUSED outside the zone',
    qname: 'www.example.org',
    qtype: 'A',
    client: DE,
    rcode: 'REFUSED',
    answer: [],
  },
  {
    name: 'REFUSED for the parent of the zone',
    qname: 'example.net',
    qtype: 'SOA',
    client: DE,
    rcode: 'REFUSED',
    answer: [],
  },

  // CHAOS debug names.
  {
    name: 'CHAOS version.bind',
    qname: 'version.bind',
    qtype: 'TXT',
    qclass: 'CH',
    client: DE,
    rcode: 'NOERROR',
    answer: ['version.bind. 0 CH TXT "cirrus-test"'],
  },
  {
    name: 'CHAOS id.server',
    qname: 'id.server',
    qtype: 'TXT',
    qclass: 'CH',
    client: DE,
    rcode: 'NOERROR',
    answer: ['id.server. 0 CH TXT "edge1"'],
  },
  {
    name: 'CHAOS: any other name is refused',
    qname: 'authors.bind',
    qtype: 'TXT',
    qclass: 'CH',
    client: DE,
    rcode: 'REFUSED',
    answer: [],
  },

  // ACME challenge values are zone content while they live.
  {
    name: 'ACME challenge TXT',
    qname: 'd420c923-bbd7.acme.cdn.example.net',
    qtype: 'TXT',
    client: DE,
    rcode: 'NOERROR',
    answer: [
      'd420c923-bbd7.acme.cdn.example.net. 30 IN TXT "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo"',
    ],
  },
  {
    name: 'ACME challenge expired before the build: gone',
    qname: 'expired.acme.cdn.example.net',
    qtype: 'TXT',
    client: DE,
    rcode: 'NXDOMAIN',
    answer: [],
    authority: [NEG],
  },
];

describe('answer stages, as dig shows them', () => {
  it('has a case for every kind of answer', () => assert.ok(CASES.length >= 30));
  for (const c of CASES) {
    it(c.name, () => {
      const r = ask(c);
      assert.equal(RCODES[r.header.rcode], c.rcode, 'rcode');
      assert.equal(r.header.aa === 1, c.aa ?? c.rcode !== 'REFUSED', 'AA');
      assert.deepEqual(r.answers.map(text), c.answer, 'answer');
      assert.deepEqual(r.authorities.map(text), c.authority ?? [], 'authority');
      if (c.additional)
        assert.deepEqual(
          r.additionals.filter((a: Dns2Record) => a.type !== 41).map(text),
          c.additional,
          'additional',
        );
      if (c.scope !== undefined) {
        const opt = r.additionals.find((a: Dns2Record) => a.type === 41);
        const ecs = opt?.rdata?.find((o: Dns2Record) => o.ednsCode === 8);
        assert.equal(ecs?.scopePrefixLength, c.scope, 'ECS scope');
      }
    });
  }
});
