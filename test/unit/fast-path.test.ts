// The answer cache's fast path answers byte for byte what the slow path (decode →
// pipeline → encode) answers, for every repeat of a query: over base names, static and
// missing names, many types, 0x20 case, EDNS sizes, DO, NSID and ECS subnets; and it
// leaves exchanges (UPDATE, transfers, signed requests), debug names and odd queries to
// the slow path. Metrics count every query either way.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { finishConfig } from '../../src/config/load.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { Snapshot } from '../../src/snapshot/snapshot.js';
import type { Domain, EdgeNode } from '../../src/model/domain.js';
import { GslbPolicy } from '../../src/gslb/policy-model.js';
import { validate } from '../../src/config/validate.js';
import { createHandler, type CookieSettings } from '../../src/pipeline/order.js';
import { checkCookie, serverCookie, type CookieSecrets } from '../../src/wire/cookie.js';
import type { QueryHandler } from '../../src/pipeline/handler.js';
import { drive } from '../../src/lib/cooperative.js';
import { existingAnswerCache } from '../../src/snapshot/answer-cache.js';
import { dnsMetrics } from '../../src/pipeline/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { Decision } from '../../src/gslb/decide.js';
import type { GeoLookup } from '../../src/geo/geo-record.js';
import { tableGeo } from '../helpers/table-geo.js';
import { buildQuery, ecsOption, parseReply, type QueryBits } from '../helpers/wire.js';

const config = finishConfig({});
const ZONE = config.zone.name;

const GEO = tableGeo([
  { cidr: '198.51.100.0/24', country: 'DE', continent: 'EU', lat: 50.11, lon: 8.68, asn: 64501 },
  { cidr: '203.0.113.0/24', country: 'HK', continent: 'AS', lat: 22.32, lon: 114.17 },
  { cidr: '192.0.2.0/25', country: 'US', continent: 'NA', lat: 38.95, lon: -77.45 },
  { cidr: '2001:db8:de::/48', country: 'DE', continent: 'EU', lat: 50.11, lon: 8.68 },
]);

const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'] },
    hkg: { lat: 22.32, lon: 114.17, countries: ['HK'], continents: ['AS'] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
  },
};

const NODES: EdgeNode[] = ['fra', 'hkg', 'iad'].flatMap((pool, p) =>
  [1, 2, 3].map((n) => ({
    id: `${pool}-${n}`,
    pool,
    ipv4: `100.64.${p}.${n}`,
    ipv6: `2001:db8:${p}::${n}`,
    weight: 100,
    active: !(pool === 'iad' && n === 1),
  })),
);

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
  // Big enough that a 512-octet reply truncates.
  ...Array.from({ length: 40 }, (_, i) => `big IN TXT "${'x'.repeat(40)} ${i}"`),
  '',
].join('\n');

function snapshot(): Snapshot {
  return buildSnapshot({
    config,
    state: {
      domains: [
        domain('www.example.com'),
        domain('noecs.example.com', { ecs: false }),
        domain('two.example.com', { answers: 2 }),
        domain('spread.example.com', { spread: { nodes: 3, v4Prefix: 24, v6Prefix: 48 } }),
      ],
      nodes: NODES,
      zoneText: ZONE_TEXT,
      policy: validate(GslbPolicy, structuredClone(POLICY), 'policy'),
    },
    generation: 1,
    serial: 1,
    contentHash: 'x',
  });
}

interface Counted {
  handler: QueryHandler;
  registry: Registry;
  decisions: Decision[];
  exchanged: Buffer[];
}

function handler(
  snap: Snapshot | (() => Snapshot),
  answerCache: boolean,
  geo: GeoLookup = GEO,
  cookies?: CookieSettings,
): Counted {
  const registry = new Registry();
  const decisions: Decision[] = [];
  const exchanged: Buffer[] = [];
  const h = createHandler({
    snapshot: typeof snap === 'function' ? snap : () => snap,
    settings: {
      version: null,
      identity: null,
      geo,
      debug: () => true,
      onDecision: (d) => decisions.push(d),
    },
    udpSize: 1232,
    nsid: Buffer.from('edge-1'),
    metrics: dnsMetrics(registry),
    logger: silentLogger(),
    answerCache,
    ...(cookies ? { cookies } : {}),
    exchanges: [
      // Claims UPDATE, NOTIFY and transfers; looks at (and passes on) everything else.
      (q, msg) => {
        exchanged.push(msg);
        return q.opcode !== 0 || q.qtype >= 251 ? Promise.resolve([]) : undefined;
      },
    ],
  });
  return { handler: h, registry, decisions, exchanged };
}

/** Random 0x20 case of a name, from a fixed seed so failures repeat. */
function mixCase(name: string, seed: number): string {
  let s = seed;
  return [...name]
    .map((c) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s & 0x10000 ? c.toUpperCase() : c;
    })
    .join('');
}

const NAMES = [
  `www-example-com.${ZONE}`,
  `noecs-example-com.${ZONE}`,
  `two-example-com.${ZONE}`,
  `spread-example-com.${ZONE}`,
  `status.${ZONE}`,
  `mail.${ZONE}`,
  `txt.${ZONE}`,
  `alias.${ZONE}`,
  `a.wild.${ZONE}`,
  `host.sub.${ZONE}`,
  `big.${ZONE}`,
  `missing.${ZONE}`,
  ZONE,
  'elsewhere.example.org',
];
const TYPES = [1, 28, 5, 15, 16, 2, 6, 33, 257, 255];
const EDNS: Array<QueryBits['opt'] | undefined> = [
  undefined,
  { udp: 512 },
  { udp: 1232, do: true },
  { udp: 4096, options: [{ code: 3, data: Buffer.alloc(0) }] },
  { udp: 1232, options: [ecsOption(1, 24, 0, [198, 51, 100])] },
  { udp: 1232, options: [ecsOption(1, 16, 0, [203, 0])] },
  { udp: 1232, options: [ecsOption(1, 32, 0, [192, 0, 2, 7])] },
  { udp: 1232, options: [ecsOption(1, 0, 0, [])] },
  { udp: 1232, options: [ecsOption(2, 56, 0, [0x20, 0x01, 0x0d, 0xb8, 0, 0xde, 0])] },
  {
    udp: 1400,
    options: [{ code: 3, data: Buffer.alloc(0) }, ecsOption(1, 24, 0, [198, 51, 100])],
  },
];

async function counters(r: Registry): Promise<string> {
  const m = await r.getSingleMetricAsString('cirrus_dns_queries_total');
  return m
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .sort()
    .join('\n');
}

describe('answer cache fast path', () => {
  it('answers every repeat byte for byte as the slow path does', async () => {
    const snap = snapshot();
    const slow = handler(snap, false);
    const fast = handler(snap, true);
    let compared = 0;
    let seed = 1;
    for (const name of NAMES)
      for (const type of TYPES)
        for (const opt of EDNS)
          for (const client of ['127.0.0.1', '198.51.100.7', '::ffff:203.0.113.9'])
            for (let round = 0; round < 3; round++) {
              seed++;
              const q = buildQuery({
                id: (seed * 7919) & 0xffff,
                name: round === 0 ? name : mixCase(name, seed),
                type,
                flags: round === 2 ? 0x0110 : 0x0100,
                ...(opt ? { opt } : {}),
              });
              for (const transport of ['udp', 'tcp'] as const) {
                const want = slow.handler(q, transport, client, 5300);
                const got = fast.handler(q, transport, client, 5300);
                assert.ok(Buffer.isBuffer(want) && Buffer.isBuffer(got));
                assert.deepEqual(
                  got.toString('hex'),
                  want.toString('hex'),
                  `${name} type ${type} ${JSON.stringify(opt)} from ${client} over ${transport}, round ${round}`,
                );
                compared++;
              }
            }
    assert.equal(compared, NAMES.length * TYPES.length * EDNS.length * 3 * 3 * 2);
    // Same queries counted, same decisions counted, whichever path answered.
    assert.equal(await counters(fast.registry), await counters(slow.registry));
    assert.equal(fast.decisions.length, slow.decisions.length);
    assert.ok(slow.decisions.length > 0);
  });

  it('keeps the question case of each query and the ID', () => {
    const fast = handler(snapshot(), true);
    const a = buildQuery({ id: 1, name: `www-example-com.${ZONE}` });
    const b = buildQuery({ id: 2, name: `WwW-ExAmPlE-cOm.${ZONE.toUpperCase()}` });
    const ra = fast.handler(a, 'udp', '127.0.0.1', 1) as Buffer;
    const rb = fast.handler(b, 'udp', '127.0.0.1', 1) as Buffer;
    assert.equal(rb.readUInt16BE(0), 2);
    assert.deepEqual(rb.subarray(12, b.length), b.subarray(12));
    assert.deepEqual(rb.subarray(b.length), ra.subarray(a.length));
  });

  it('gives each client subnet its own answer (ECS scope exact)', () => {
    const fast = handler(snapshot(), true);
    const slow = handler(snapshot(), false);
    for (const net of [
      [198, 51, 100],
      [203, 0, 113],
      [192, 0, 2],
      [198, 51, 100],
    ]) {
      const q = buildQuery({
        name: `www-example-com.${ZONE}`,
        opt: { options: [ecsOption(1, 24, 0, net)] },
      });
      const want = slow.handler(q, 'udp', '127.0.0.1', 1) as Buffer;
      assert.deepEqual(fast.handler(q, 'udp', '127.0.0.1', 1), want);
    }
  });

  it('leaves exchanges, debug names and other classes to the slow path every time', async () => {
    const fast = handler(snapshot(), true);
    const update = buildQuery({ name: ZONE, type: 6, flags: 0x2800 });
    const axfr = buildQuery({ name: ZONE, type: 252 });
    const notify = buildQuery({ name: ZONE, type: 6, flags: 0x2000 });
    for (let i = 0; i < 2; i++)
      for (const q of [update, axfr, notify]) {
        const r = fast.handler(q, 'tcp', '127.0.0.1', 1);
        assert.ok(r instanceof Promise, 'an exchange answers');
        await r;
      }
    // A signed query (TSIG as its one additional record) reaches the exchanges each time,
    // even when they pass it on to the pipeline.
    const tsig = Buffer.concat([
      buildQuery({ name: `www-example-com.${ZONE}` }),
      Buffer.from('036b657900', 'hex'), // owner "key."
      Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, 0, 0]), // TSIG, class ANY, TTL 0, no rdata
    ]);
    tsig.writeUInt16BE(1, 10);
    for (let i = 0; i < 2; i++)
      assert.ok(Buffer.isBuffer(fast.handler(tsig, 'udp', '127.0.0.1', 1)));
    assert.equal(fast.exchanged.length, 8);
    // whoami names the client's port: each query gets its own answer.
    const who = buildQuery({ name: `whoami.${ZONE}`, type: 16 });
    const r1 = fast.handler(who, 'udp', '127.0.0.1', 1111) as Buffer;
    const r2 = fast.handler(who, 'udp', '127.0.0.1', 2222) as Buffer;
    assert.match(r1.toString('latin1'), /port 1111/);
    assert.match(r2.toString('latin1'), /port 2222/);
  });

  it('drops cached answers when the snapshot or the GeoIP data changes', () => {
    let snap = snapshot();
    let version = 1;
    let country = 'DE';
    const geo: GeoLookup = {
      lookup: () => ({
        country,
        continent: country === 'DE' ? 'EU' : 'AS',
        geoPrefix: 8,
        asnPrefix: 8,
      }),
      version: () => version,
    };
    const registry = new Registry();
    const h = createHandler({
      snapshot: () => snap,
      settings: { version: null, identity: null, geo, debug: null, onDecision: () => undefined },
      udpSize: 1232,
      nsid: undefined,
      metrics: dnsMetrics(registry),
      logger: silentLogger(),
    });
    const q = buildQuery({ name: `www-example-com.${ZONE}` });
    const pool = (r: Buffer) => r[r.length - 2]; // third octet of the one A record: the pool
    const de = h(q, 'udp', '198.51.100.1', 1) as Buffer;
    country = 'HK';
    assert.equal(pool(h(q, 'udp', '198.51.100.1', 1) as Buffer), pool(de), 'cached');
    version = 2;
    const hk = h(q, 'udp', '198.51.100.1', 1) as Buffer;
    assert.notEqual(pool(hk), pool(de), 'a GeoIP reload is seen at once');
    country = 'DE';
    snap = snapshot();
    assert.equal(
      pool(h(q, 'udp', '198.51.100.1', 1) as Buffer),
      pool(de),
      'a new snapshot is seen',
    );
  });

  it('prewarms a new snapshot with the answers last given, counting nothing', async () => {
    let live = snapshot();
    const { handler: h, registry, decisions } = handler(() => live, true);
    const asks = NAMES.flatMap((name, i) =>
      [1, 28, 16].map((qtype, j) =>
        buildQuery({
          id: i * 3 + j + 1,
          name: mixCase(name, i + j),
          type: qtype,
          ...(j === 1
            ? { opt: { udp: 1232, options: [ecsOption(1, 24, 0, [198, 51, 100])] } }
            : {}),
        }),
      ),
    );
    const first = asks.map((q) => h(q, 'udp', '192.0.2.7', 5300) as Buffer);
    assert.equal(existingAnswerCache(live)?.size, 0, 'a key seen once is not kept');
    // Seen again: kept (from the decision cache's hit or the slow path), the same answers.
    asks.forEach((q, i) => assert.deepEqual(h(q, 'udp', '192.0.2.7', 5300), first[i]));
    assert.equal(existingAnswerCache(live)?.size, asks.length, 'a key seen twice is kept');
    const countedBefore = await counters(registry);
    const decisionsBefore = decisions.length;

    const next = snapshot();
    const warmed = await drive(h.prewarm(next, live));
    assert.equal(warmed, asks.length);
    assert.equal(await counters(registry), countedBefore, 'prewarming counts no query');
    assert.equal(decisions.length, decisionsBefore, 'nor any decision');
    assert.equal(existingAnswerCache(next)?.size, asks.length);

    // After the swap every repeat is a hit (no new cache entry), byte for byte the answer
    // the slow path gave, with its own ID and question case.
    live = next;
    asks.forEach((q, i) => assert.deepEqual(h(q, 'udp', '192.0.2.7', 5300), first[i]));
    assert.equal(existingAnswerCache(next)?.size, asks.length);
    // Another client's queries were not asked before: not prewarmed.
    assert.equal(await drive(h.prewarm(snapshot(), undefined)), 0);
  });

  describe('with DNS cookies', () => {
    const secrets: CookieSecrets = { current: Buffer.alloc(16, 7), previous: Buffer.alloc(16, 9) };
    const CLIENT = '198.51.100.7';
    const octets = Buffer.from([198, 51, 100, 7]);
    const name = `www-example-com.${ZONE}`;
    const cookieQuery = (id: number, cookie: Buffer, qname = name) =>
      buildQuery({ id, name: qname, opt: { udp: 1232, options: [{ code: 10, data: cookie }] } });
    const clientCookie = (fill: number) => Buffer.alloc(8, fill);
    const now = () => Math.floor(Date.now() / 1000);
    /** The cache's only entry for this snapshot: the same object after a hit. */
    const entry = (snap: Snapshot) => {
      const all = [...(existingAnswerCache(snap)?.values() ?? [])];
      assert.equal(all.length, 1);
      return all[0];
    };
    /** The COOKIE option the reply ends with (the encoder writes it last). */
    const replyCookie = (reply: Buffer) => {
      assert.equal(reply.readUInt16BE(reply.length - 28), 10);
      assert.equal(reply.readUInt16BE(reply.length - 26), 24);
      return reply.subarray(reply.length - 24);
    };
    const settings = (demand: boolean): CookieSettings => ({ secrets: () => secrets, demand });

    it('answers a repeat with a valid server cookie from the cache, echoing it byte for byte', () => {
      const snap = snapshot();
      const fast = handler(snap, true, GEO, settings(false));
      const slow = handler(snap, false, GEO, settings(false));
      const client = clientCookie(1);
      const valid = Buffer.concat([client, serverCookie(client, octets, secrets.current, now())]);
      const first = fast.handler(cookieQuery(1, valid), 'udp', CLIENT, 1) as Buffer;
      // Kept from the key's second sighting (the doorkeeper), here a decision-cache hit.
      fast.handler(cookieQuery(1, valid), 'udp', CLIENT, 1);
      const cached = entry(snap);
      const again = fast.handler(cookieQuery(2, valid), 'udp', CLIENT, 1) as Buffer;
      assert.equal(entry(snap), cached, 'the repeat is a hit');
      assert.deepEqual(again, slow.handler(cookieQuery(2, valid), 'udp', CLIENT, 1));
      assert.deepEqual(replyCookie(again), valid, 'a fresh valid cookie is echoed');
      assert.deepEqual(again.subarray(2), first.subarray(2));
    });

    it('writes each repeat its own cookie: another client cookie of the same length is a hit', () => {
      const snap = snapshot();
      const fast = handler(snap, true, GEO, settings(false));
      const slow = handler(snap, false, GEO, settings(false));
      fast.handler(cookieQuery(1, clientCookie(1)), 'udp', CLIENT, 1);
      fast.handler(cookieQuery(1, clientCookie(1)), 'udp', CLIENT, 1);
      const cached = entry(snap);
      for (const fill of [2, 3, 4]) {
        const q = cookieQuery(fill, clientCookie(fill));
        const got = fast.handler(q, 'udp', CLIENT, 1) as Buffer;
        assert.equal(entry(snap), cached, 'a hit');
        const want = slow.handler(q, 'udp', CLIENT, 1) as Buffer;
        // Everything but the server cookie's timestamp and hash, which depend on the second.
        assert.deepEqual(got.subarray(0, got.length - 16), want.subarray(0, want.length - 16));
        const cookie = replyCookie(got);
        assert.deepEqual(cookie.subarray(0, 8), clientCookie(fill), 'its own client cookie');
        const check = checkCookie(cookie, octets, secrets, now());
        assert.equal(check.verdict, 'valid', 'and a server cookie made for it');
      }
      assert.equal(
        parseReply(fast.handler(cookieQuery(9, clientCookie(9)), 'udp', CLIENT, 1) as Buffer)
          .answers.length,
        1,
      );
    });

    it('leaves a hit whose cookie earns BADCOOKIE to the slow path', () => {
      const snap = snapshot();
      const fast = handler(snap, true, GEO, settings(true));
      const client = clientCookie(5);
      const valid = Buffer.concat([client, serverCookie(client, octets, secrets.current, now())]);
      const answered = fast.handler(cookieQuery(1, valid), 'udp', CLIENT, 1) as Buffer;
      assert.equal(answered[3]! & 0x0f, 0);
      fast.handler(cookieQuery(1, valid), 'udp', CLIENT, 1);
      const cached = entry(snap);
      // Same length, made with a secret this server does not have.
      const forged = Buffer.concat([
        client,
        serverCookie(client, octets, Buffer.alloc(16, 1), now()),
      ]);
      const bad = fast.handler(cookieQuery(2, forged), 'udp', CLIENT, 1) as Buffer;
      assert.equal(bad[3]! & 0x0f, 7, 'BADCOOKIE: 7 in the header');
      assert.equal(bad.readUInt16BE(6), 0, 'and no answer');
      assert.equal(bad[bad.length - 28 - 11 + 5], 1, 'its upper bits in the OPT');
      assert.equal(checkCookie(replyCookie(bad), octets, secrets, now()).verdict, 'valid');
      assert.equal(entry(snap), cached, 'BADCOOKIE is not cached');
      // Over TCP the same cookie is answered (RFC 7873 §5.2.3): the address is proven.
      const tcp = fast.handler(cookieQuery(3, forged), 'tcp', CLIENT, 1) as Buffer;
      assert.equal(tcp[3]! & 0x0f, 0);
      assert.equal(tcp.readUInt16BE(6), 1);
    });
  });
});
