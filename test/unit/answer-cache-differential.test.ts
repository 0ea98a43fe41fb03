// The answer caches (the exact one and the decision-keyed one, snapshot/decision-cache.ts)
// answer byte for byte what the pipeline answers without them, over a long stream of varied
// queries: many resolver addresses and ECS subnets (IPv4 /24, /16, /32, IPv6 /56, /48, /0),
// base names with and without ECS, static, TXT, NXDOMAIN and truncating names, A, AAAA,
// ANY, TXT and MX, DO on and off, NSID, DNS cookies, small UDP sizes, TCP, 0x20 case; over
// several health states (snapshots with nodes down, health bounds), snapshot swaps and a
// GeoIP reload. Locations come from a real .mmdb built by `cirrus geo build`'s builder and
// read by the server's reader, with networks coarser and finer than the /24 and /56
// buckets, and an operator CIDR map finer than a bucket. Hits of the decision cache echo
// the query's own ECS family, source prefix and address with the answer's scope.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { finishConfig } from '../../src/config/load.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { Snapshot } from '../../src/snapshot/snapshot.js';
import type { Domain, EdgeNode } from '../../src/model/domain.js';
import { GslbPolicy } from '../../src/gslb/policy-model.js';
import { validate } from '../../src/config/validate.js';
import { createHandler } from '../../src/pipeline/order.js';
import { dnsMetrics } from '../../src/pipeline/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { HealthBounds } from '../../src/gslb/health-bound.js';
import type { QueryHandler } from '../../src/pipeline/handler.js';
import type { GeoLookup } from '../../src/geo/geo-record.js';
import { buildGeoDatabase } from '../../src/geo/tools/build.js';
import { lookupIn, openDatabase, type GeoDatabase } from '../../src/geo/geoip.js';
import { serverCookie, type CookieSecrets } from '../../src/wire/cookie.js';
import { clientAddressBytes } from '../../src/lib/client-address.js';
import { buildQuery, ecsOption, type QueryBits } from '../helpers/wire.js';
import { newStoredKey } from '../../src/dnssec/keys.js';

const config = finishConfig({});
const ZONE = config.zone.name;
const NOW = 50_000_000;
/** The same zone signed (DNSSEC): its answers to DO queries carry RRSIGs and NSECs. */
const signedConfig = { ...config, dnssec: { ...config.dnssec, enabled: true } };
const KEYS = [newStoredKey(13, NOW)];

// Two versions of the GeoIP data: the second moves 198.51.0.0/16 to HK and splits a /56.
const COUNTRIES_A = [
  'network,country_code',
  '198.51.0.0/16,DE',
  '203.0.113.0/24,HK',
  '192.0.2.0/25,US',
  '192.0.2.128/25,DE',
  '100.64.0.0/10,FR',
  '2001:db8:de::/48,DE',
  '2001:db8:a000::/40,HK',
  '2001:db8:1::/64,US',
  '2001:db8:1:ff::/64,HK',
];
const COUNTRIES_B = [
  'network,country_code',
  '198.51.0.0/16,HK',
  '203.0.113.0/24,HK',
  '192.0.2.0/24,US',
  '100.64.0.0/10,FR',
  '2001:db8:de::/48,DE',
  '2001:db8:de:0:8000::/65,US',
  '2001:db8:a000::/40,HK',
];
const ASNS = ['network,asn', '198.51.100.0/24,64501', '2001:db8:a000::/40,64502'];

const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'] },
    hkg: { lat: 22.32, lon: 114.17, countries: ['HK'], continents: ['AS'], asns: [64502] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
  },
  // A map finer than a /24 bucket (its bucket is located address by address) and a coarse one.
  nets: [
    { cidr: '203.0.113.128/26', pool: 'iad' },
    { cidr: '10.0.0.0/8', pool: 'hkg' },
  ],
};

function nodes(down: readonly string[]): EdgeNode[] {
  return ['fra', 'hkg', 'iad'].flatMap((pool, p) =>
    [1, 2, 3].map((n) => ({
      id: `${pool}-${n}`,
      pool,
      ipv4: `100.64.${p}.${n}`,
      ...(pool === 'iad' && n === 3 ? {} : { ipv6: `2001:db8:${p}::${n}` }),
      weight: 100,
      active: !down.includes(`${pool}-${n}`),
    })),
  );
}

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

const ZONE_TEXT = [
  '$TTL 300',
  'status IN A 198.51.100.10',
  'status IN AAAA 2001:db8::10',
  'mail IN MX 10 mx.example.org.',
  'txt IN TXT "hello" "world"',
  `alias IN CNAME www-example-com.${ZONE}.`,
  '*.wild IN A 198.51.100.20',
  'sub IN NS ns.sub',
  'ns.sub IN A 198.51.100.53',
  ...Array.from({ length: 20 }, (_, i) => `big IN TXT "${'x'.repeat(40)} ${i}"`),
  '',
].join('\n');

function snapshot(generation: number, down: readonly string[], signed = false): Snapshot {
  return buildSnapshot({
    config: signed ? signedConfig : config,
    state: {
      ...(signed ? { dnssecKeys: KEYS } : {}),
      domains: [
        domain('www.example.com'),
        domain('noecs.example.com', { ecs: false }),
        domain('two.example.com', { answers: 2 }),
        domain('spread.example.com', { spread: { nodes: 3, v4Prefix: 20, v6Prefix: 48 } }),
        domain('closed.example.com', { lastResort: 'fail-closed' }),
      ],
      nodes: nodes(down),
      zoneText: ZONE_TEXT,
      policy: validate(GslbPolicy, structuredClone(POLICY), 'policy'),
    },
    generation,
    serial: generation,
    contentHash: `h${generation}`,
  });
}

/** The health states the stream passes through, each a new snapshot (and bounds). */
const STATES: ReadonlyArray<{ down: string[]; bounds: boolean }> = [
  { down: [], bounds: false },
  { down: ['fra-1', 'hkg-2'], bounds: true },
  { down: ['fra-1', 'fra-2', 'fra-3', 'iad-1'], bounds: true },
  { down: ['hkg-1', 'hkg-2', 'hkg-3', 'iad-3'], bounds: false },
];

/** An RRSIG record's type and class on the wire. */
const RRSIG_IN = Buffer.from([0x00, 0x2e, 0x00, 0x01]);

const SECRETS: CookieSecrets = { current: Buffer.alloc(16, 3), previous: Buffer.alloc(16, 4) };

const BASE = ['www', 'noecs', 'two', 'spread', 'closed'].map((d) => `${d}-example-com.${ZONE}`);
const STATIC = [`status.${ZONE}`, `txt.${ZONE}`, `alias.${ZONE}`, `a.wild.${ZONE}`, `big.${ZONE}`];
const TYPES = [1, 1, 1, 1, 28, 28, 255, 16, 15];

const RESOLVERS = [
  '198.51.100.7',
  '198.51.100.99',
  '198.51.7.1',
  '198.51.200.2',
  '203.0.113.9',
  '203.0.113.77',
  '203.0.113.130', // in the CIDR map's /26
  '203.0.113.200',
  '192.0.2.7', // the /25 halves: a bucket finer than /24
  '192.0.2.200',
  '100.70.1.1',
  '100.70.1.2',
  '10.1.2.3',
  '127.0.0.1',
  '2001:db8:de::1',
  '2001:db8:de::53',
  '2001:db8:a000:11::1',
  '2001:db8:1::1',
  '2001:db8:1:0:1::1',
  '::ffff:198.51.100.8',
];

/** Deterministic PRNG (mulberry32), so a failure repeats. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function mixCase(name: string, r: () => number): string {
  return [...name].map((c) => (r() < 0.3 ? c.toUpperCase() : c)).join('');
}

type Ecs = { family: 1 | 2; source: number; address: number[] } | undefined;

function ecsFor(r: () => number): Ecs {
  const x = r();
  const v4 = (a: number, b: number, c: number, d: number, source: number) => ({
    family: 1 as const,
    source,
    address: [a, b, c, d].slice(0, Math.ceil(source / 8)),
  });
  const v6 = (bytes: number[], source: number) => {
    const full = [...bytes, ...Array<number>(16).fill(0)].slice(0, 16);
    const n = Math.ceil(source / 8);
    const address = full.slice(0, n);
    if (source % 8 && n > 0)
      address[n - 1] = (address[n - 1] as number) & (0xff << (8 - (source % 8)));
    return { family: 2 as const, source, address };
  };
  const third = Math.floor(r() * 8);
  if (x < 0.25) return v4(198, 51, pick(r, [100, 7, 200, third]), 0, 24);
  if (x < 0.33) return v4(pick(r, [198, 203, 100]), pick(r, [51, 0, 70]), 0, 0, 16);
  if (x < 0.43)
    return v4(pick(r, [192, 203]), 0, pick(r, [2, 113]), pick(r, [1, 7, 129, 131, 200, 250]), 32);
  if (x < 0.48) return v4(203, 0, 113, 0, 24);
  if (x < 0.58) return v6([0x20, 0x01, 0x0d, 0xb8, 0, pick(r, [0xde, 0x01]), 0, third], 56);
  if (x < 0.63) return v6([0x20, 0x01, 0x0d, 0xb8, 0xa0, 0, third], 48);
  if (x < 0.66) return v6([0x20, 0x01, 0x0d, 0xb8, 0, 0xde, 0, 0, 0x80], 72);
  if (x < 0.7) return { family: pick(r, [1, 2] as const), source: 0, address: [] };
  return undefined;
}

interface Made {
  msg: Buffer;
  ecs: Ecs;
  what: string;
}

function makeQuery(r: () => number, id: number, cookieFor: (client: Buffer) => Buffer): Made {
  const x = r();
  let name =
    x < 0.6
      ? pick(r, BASE)
      : x < 0.85
        ? pick(r, STATIC)
        : `nx${Math.floor(r() * 1e6).toString(36)}.${ZONE}`;
  if (r() < 0.4) name = mixCase(name, r);
  const type = pick(r, TYPES);
  const ecs = ecsFor(r);
  const options: Array<{ code: number; data: Buffer }> = [];
  if (r() < 0.2) options.push({ code: 3, data: Buffer.alloc(0) });
  if (ecs) options.push(ecsOption(ecs.family, ecs.source, 0, ecs.address));
  const c = r();
  if (c < 0.2) {
    const client = Buffer.alloc(8, Math.floor(r() * 4));
    options.push({ code: 10, data: c < 0.1 ? client : cookieFor(client) });
  }
  if (r() < 0.1) options.push({ code: 65001, data: Buffer.from('x') });
  const edns = ecs || options.length > 0 || r() < 0.8;
  const opt: QueryBits['opt'] | undefined = edns
    ? { udp: pick(r, [512, 1232, 1232, 1400, 4096]), do: r() < 0.3, options }
    : undefined;
  const flags = pick(r, [0x0000, 0x0000, 0x0100, 0x0010]);
  const msg = buildQuery({ id, name, type, flags, ...(opt ? { opt } : {}) });
  return { msg, ecs, what: `${name} type ${type} ecs ${JSON.stringify(ecs)} opt ${!!opt}` };
}

/** The ECS option of a reply: family, source, scope and address octets; undefined if none. */
function replyEcs(wire: Buffer) {
  let pos = 12;
  const skip = () => {
    for (;;) {
      const len = wire[pos] as number;
      if (len >= 0xc0) return void (pos += 2);
      pos += 1;
      if (len === 0) return;
      pos += len;
    }
  };
  skip();
  pos += 4;
  const n = wire.readUInt16BE(6) + wire.readUInt16BE(8) + wire.readUInt16BE(10);
  for (let i = 0; i < n; i++) {
    skip();
    const type = wire.readUInt16BE(pos);
    const rdlen = wire.readUInt16BE(pos + 8);
    const start = pos + 10;
    pos = start + rdlen;
    if (type !== 41) continue;
    for (let p = start; p < start + rdlen; p += 4 + wire.readUInt16BE(p + 2)) {
      if (wire.readUInt16BE(p) !== 8) continue;
      const len = wire.readUInt16BE(p + 2);
      return {
        family: wire.readUInt16BE(p + 4),
        source: wire[p + 6] as number,
        scope: wire[p + 7] as number,
        address: [...wire.subarray(p + 8, p + 4 + len)],
      };
    }
  }
  return undefined;
}

/** A handler over `snap` with the caches on or off, counting decisions and cache hits. */
function handlerPair(
  answerCache: boolean,
  geo: GeoLookup,
  snap: () => Snapshot,
  bounds: () => HealthBounds | undefined,
  onDecisionHit: () => void,
) {
  const registry = new Registry();
  const metrics = dnsMetrics(registry);
  const decisions: unknown[] = [];
  const handler: QueryHandler = createHandler({
    snapshot: snap,
    settings: {
      version: null,
      identity: null,
      geo,
      debug: () => true,
      onDecision: (d) => decisions.push(d),
      health: bounds,
    },
    udpSize: 1232,
    nsid: Buffer.from('edge-1'),
    metrics: answerCache ? { ...metrics, decisionHit: { inc: onDecisionHit } } : metrics,
    logger: silentLogger(),
    answerCache,
    cookies: { secrets: () => SECRETS, demand: false },
  });
  return { handler, registry, decisions };
}

let dir = '';
const dbs: GeoDatabase[][] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cirrus-diff-'));
  for (const [i, countries] of [COUNTRIES_A, COUNTRIES_B].entries()) {
    const country = join(dir, `countries-${i}.csv`);
    const asn = join(dir, `asn-${i}.csv`);
    await writeFile(country, countries.join('\n') + '\n');
    await writeFile(asn, ASNS.join('\n') + '\n');
    const built = await buildGeoDatabase({ country: [country], asn: [asn], buildEpoch: 1 });
    dbs.push([openDatabase(join(dir, `geo-${i}.mmdb`), built.build.buffer)]);
  }
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('answer caches against the uncached pipeline', () => {
  it('answer every query byte for byte as the pipeline does, over health states, swaps and a GeoIP reload', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: NOW });
    let live = dbs[0] as GeoDatabase[];
    // The reader's contract: version() changes by identity when the data does.
    const geo: GeoLookup = { lookup: (ip) => lookupIn(live, ip), version: () => live };
    let snap = snapshot(1, []);
    let bounds: HealthBounds | undefined;
    let decisionHits = 0;
    const make = (answerCache: boolean) =>
      handlerPair(
        answerCache,
        geo,
        () => snap,
        () => bounds,
        () => void decisionHits++,
      );
    const cached = make(true);
    const plain = make(false);

    const r = rng(16);
    const octets = Buffer.alloc(16);
    let compared = 0;
    let echoed = 0;
    let signedReplies = 0;
    const hitClients = new Set<string>();
    const PER_PHASE = 2500;
    const phases = STATES.length + 1;
    for (let phase = 0; phase < phases; phase++) {
      const state = STATES[phase % STATES.length] as (typeof STATES)[number];
      // A new snapshot per health state, signed in odd phases; the last phase reloads the
      // GeoIP data instead (on the signed snapshot of the phase before).
      if (phase === STATES.length) live = dbs[1] as GeoDatabase[];
      else snap = snapshot(phase + 1, state.down, phase % 2 === 1);
      // Every node's bound is known: a cached answer's TTL counted down is then what the
      // pipeline gives at the same time (an unknown node's bound moves with the clock, and
      // a cached answer keeps the bound it was decided with, by design).
      const start = Date.now();
      bounds = state.bounds
        ? new HealthBounds(
            { floorSec: 5, unknownSec: 10 },
            new Map(
              nodes([]).map((n, k) => [n.id, { at: start + 20_000 + k * 3_700, unknown: false }]),
            ),
          )
        : undefined;
      // A third of the queries repeat one of the last few asked (a resolver asking again):
      // the exact cache keeps a key from its second sighting, so repeats reach its hits.
      const recent: {
        client: string;
        q: ReturnType<typeof makeQuery>;
        transport: 'tcp' | 'udp';
      }[] = [];
      for (let i = 0; i < PER_PHASE; i++) {
        let ask = recent.length > 0 && r() < 0.35 ? pick(r, recent) : undefined;
        if (!ask) {
          const client = pick(r, RESOLVERS);
          const n = clientAddressBytes(client, octets);
          const cookieFor = (c: Buffer) =>
            Buffer.concat([
              c,
              serverCookie(
                c,
                octets.subarray(0, n),
                SECRETS.current,
                Math.floor(Date.now() / 1000),
              ),
            ]);
          const q = makeQuery(r, (i * 7919 + phase) & 0xffff, cookieFor);
          ask = { client, q, transport: r() < 0.1 ? 'tcp' : 'udp' };
          recent.push(ask);
          if (recent.length > 6) recent.shift();
        }
        const { client, q, transport } = ask;
        const hitsBefore = decisionHits;
        const want = plain.handler(q.msg, transport, client, 5300);
        const got = cached.handler(q.msg, transport, client, 5300);
        assert.ok(Buffer.isBuffer(want) && Buffer.isBuffer(got), q.what);
        assert.equal(
          got.toString('hex'),
          want.toString('hex'),
          `phase ${phase} query ${i}: ${q.what} from ${client} over ${transport}`,
        );
        compared++;
        if (got.includes(RRSIG_IN)) signedReplies++;
        if (decisionHits > hitsBefore) {
          hitClients.add(client);
          const e = replyEcs(got);
          if (q.ecs) {
            // The query's own family, source prefix and address; the answer's scope.
            assert.ok(e, `a hit for an ECS query carries ECS: ${q.what}`);
            assert.equal(e.family, q.ecs.family);
            assert.equal(e.source, q.ecs.source);
            assert.deepEqual(e.address, q.ecs.address);
            assert.equal(e.scope, replyEcs(want)?.scope);
            echoed++;
          } else assert.equal(e, undefined);
        }
        // Time moves on within a phase, inside every health bound.
        if (i % 500 === 499) t.mock.timers.tick(1000);
      }
    }
    assert.equal(compared, PER_PHASE * phases);
    t.diagnostic(
      `decision cache hits ${decisionHits} of ${compared}, ECS echoed on ${echoed}, ${hitClients.size} resolvers, ${signedReplies} signed`,
    );
    assert.ok(decisionHits > compared / 25, `decision cache hits: ${decisionHits} of ${compared}`);
    assert.ok(echoed > 100, `ECS hits checked: ${echoed}`);
    assert.ok(signedReplies > 300, `signed replies compared: ${signedReplies}`);
    assert.ok(hitClients.size > 10, `hits served ${hitClients.size} different resolvers`);
    // Counting on a hit equals the pipeline's: the same queries, rcodes and decisions.
    const counts = async (reg: Registry) =>
      (await reg.getSingleMetricAsString('cirrus_dns_queries_total'))
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .sort()
        .join('\n');
    const lookups = cached.registry.getSingleMetricAsString(
      'cirrus_dns_answer_cache_lookups_total',
    );
    return Promise.all([counts(cached.registry), counts(plain.registry), lookups]).then(
      ([a, b, text]) => {
        assert.equal(a, b);
        assert.equal(cached.decisions.length, plain.decisions.length);
        // The exact cache answered repeats too (kept from a key's second sighting, from the
        // slow path or from a decision-cache hit), and they were compared above like the rest.
        const exactHits = Number(/cache="exact",result="hit"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
        t.diagnostic(`exact cache hits ${exactHits}`);
        assert.ok(exactHits > 200, `exact cache hits: ${exactHits}`);
      },
    );
  });

  // Pairs of clients the pipeline answers differently that a careless key would merge:
  // within one bucket, a GeoIP network finer than the /24 (192.0.2.0/25), an operator CIDR
  // map finer than it (203.0.113.128/26), picks spread by the client's /20 (the spread
  // domain), an IPv6 network finer than the /56 (2001:db8:1::/64); across buckets, a CIDR
  // map entry against an unmapped neighbour with the same GeoIP facts and prefixes.
  // Each round asks from new resolver addresses, so the exact cache (keyed by the client)
  // never answers and every repeat is the decision cache's to get right.
  interface Pair {
    what: string;
    name: string;
    clients: (round: number) => [string, string];
    ecs: [Ecs, Ecs];
  }
  const viaEcs = (round: number): [string, string] => [
    `127.0.0.${10 + round}`,
    `127.0.0.${20 + round}`,
  ];
  const www = `www-example-com.${ZONE}`;
  const PAIRS: readonly Pair[] = [
    {
      what: 'geo /25 (ECS)',
      name: www,
      clients: viaEcs,
      ecs: [v4ecs([192, 0, 2, 7], 32), v4ecs([192, 0, 2, 200], 32)],
    },
    {
      what: 'geo /25 (resolvers)',
      name: www,
      clients: (r) => [`192.0.2.${7 + r}`, `192.0.2.${200 + r}`],
      ecs: [undefined, undefined],
    },
    {
      what: 'map /26',
      name: www,
      clients: viaEcs,
      ecs: [v4ecs([203, 0, 113, 9], 32), v4ecs([203, 0, 113, 130], 32)],
    },
    {
      what: 'spread /20',
      name: `spread-example-com.${ZONE}`,
      clients: viaEcs,
      ecs: [v4ecs([198, 51, 7, 0], 24), v4ecs([198, 51, 16, 0], 24)],
    },
    {
      what: 'geo /64 (resolvers)',
      name: www,
      clients: (r) => [`2001:db8:1::${r + 1}`, `2001:db8:1:ff::${r + 1}`],
      ecs: [undefined, undefined],
    },
    {
      what: 'map /8 against its unmapped neighbour',
      name: www,
      clients: (r) => [`10.1.0.${r + 1}`, `11.1.0.${r + 1}`],
      ecs: [undefined, undefined],
    },
  ];
  for (const pair of PAIRS)
    it(`keeps apart what the pipeline answers differently: ${pair.what}`, () => {
      const snap = snapshot(1, []);
      const live = dbs[0] as GeoDatabase[];
      const geo: GeoLookup = { lookup: (ip) => lookupIn(live, ip), version: () => live };
      const cached = handlerPair(
        true,
        geo,
        () => snap,
        () => undefined,
        () => undefined,
      );
      const plain = handlerPair(
        false,
        geo,
        () => snap,
        () => undefined,
        () => undefined,
      );
      const replies: Buffer[] = [];
      for (let round = 0; round < 3; round++)
        for (const k of [0, 1]) {
          const e = pair.ecs[k];
          const q = buildQuery({
            id: round * 2 + k,
            name: pair.name,
            type: 1,
            flags: 0,
            opt: { udp: 1232, options: e ? [ecsOption(e.family, e.source, 0, e.address)] : [] },
          });
          const client = pair.clients(round)[k] as string;
          const want = plain.handler(q, 'udp', client, 5300) as Buffer;
          const got = cached.handler(q, 'udp', client, 5300) as Buffer;
          assert.equal(got.toString('hex'), want.toString('hex'), `round ${round} client ${k}`);
          if (round === 0) replies.push(want);
        }
      const answer = (w: Buffer) => w.subarray(w.indexOf(0, 12) + 5).toString('hex');
      assert.notEqual(
        answer(replies[0] as Buffer).slice(0, 60),
        answer(replies[1] as Buffer).slice(0, 60),
        'the pipeline answers the two differently (else the case proves nothing)',
      );
    });

  it('keeps apart what the size limit truncates, and shares it between resolvers', () => {
    const snap = snapshot(1, []);
    const live = dbs[0] as GeoDatabase[];
    const geo: GeoLookup = { lookup: (ip) => lookupIn(live, ip), version: () => live };
    let hits = 0;
    const cached = handlerPair(
      true,
      geo,
      () => snap,
      () => undefined,
      () => void hits++,
    );
    const plain = handlerPair(
      false,
      geo,
      () => snap,
      () => undefined,
      () => undefined,
    );
    const sizes = [512, 1232, 700, 4096, 0];
    for (let i = 0; i < 20; i++) {
      const udp = sizes[i % sizes.length] as number;
      const q = buildQuery({
        id: i,
        name: `big.${ZONE}`,
        type: 16,
        flags: 0,
        ...(udp ? { opt: { udp } } : {}),
      });
      const client = `127.0.${i}.1`;
      const want = plain.handler(q, 'udp', client, 5300) as Buffer;
      const got = cached.handler(q, 'udp', client, 5300) as Buffer;
      assert.equal(got.toString('hex'), want.toString('hex'), `UDP size ${udp}`);
    }
    // Four keys: 512, 700, 1232 (4096 is capped to our 1232) and no EDNS (512, another shape).
    assert.equal(hits, 16, 'every size limit after its first answer is shared');
  });
});

function v4ecs(address: number[], source: number): Ecs {
  return { family: 1, source, address: address.slice(0, Math.ceil(source / 8)) };
}
