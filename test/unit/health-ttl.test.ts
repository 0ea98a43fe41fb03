// Health-aware TTLs as pure maths and through the handler: when a view and a node could
// flip at the earliest (probe ticks, recheck, rise/fall, quorum, view expiry), how a TTL is
// cut by the pools a decision consults (floor, unknown health), and how a cached answer's
// TTL is counted down and dropped at its bound. Also the family step: no client gets a
// NODATA another client would not get.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { finishConfig } from '../../src/config/load.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { Snapshot } from '../../src/snapshot/snapshot.js';
import type { Domain, EdgeNode, HealthView } from '../../src/model/domain.js';
import { GslbPolicy } from '../../src/gslb/policy-model.js';
import { validate } from '../../src/config/validate.js';
import { decide, newTrace } from '../../src/gslb/decide.js';
import { locate } from '../../src/gslb/location.js';
import {
  boundTtl,
  HealthBounds,
  newBoundAcc,
  remainingTtl,
  type NodeBound,
} from '../../src/gslb/health-bound.js';
import {
  downAt,
  nodeBound,
  upAt,
  viewFlipAt,
  type ProbeTiming,
} from '../../src/health/ttl-bound.js';
import { createHandler } from '../../src/pipeline/order.js';
import { dnsMetrics } from '../../src/pipeline/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { answerTtlOffsets } from '../../src/pipeline/fast-path.js';
import { ipv4ToBytes } from '../../src/lib/ip.js';
import { maskBytes } from '../../src/lib/cidr.js';
import { tableGeo } from '../helpers/table-geo.js';
import { buildQuery, ecsOption } from '../helpers/wire.js';
import type { ClientSubnet } from '../../src/wire/decode.js';

const T: ProbeTiming = { intervalSec: 10, rise: 2, fall: 3, recheckMs: 500 };
// A probe that completed 200 ms after the tick at 1000 s.
const AT = 1_000_200;

describe('when a view could flip at the earliest', () => {
  const table: Array<[string, number, number]> = [
    // what, computed, expected epoch ms
    ['up, no failure: tick +1, its recheck, tick +2', downAt(0, AT, T), 1_020_000],
    ['up, one failure: recheck now, then tick +1', downAt(1, AT, T), 1_010_000],
    ['up, two failures: the next probe (the recheck)', downAt(2, AT, T), 1_010_000],
    ['fall 1: the next tick', downAt(0, AT, { ...T, fall: 1 }), 1_010_000],
    ['fall 2: tick +1 and its recheck', downAt(0, AT, { ...T, fall: 2 }), 1_010_500],
    ['fall 2, one failure: the recheck', downAt(1, AT, { ...T, fall: 2 }), 1_000_700],
    ['no recheck: one tick per failure', downAt(0, AT, { ...T, recheckMs: 0 }), 1_030_000],
    ['down, no success: rise ticks', upAt(0, AT, T), 1_020_000],
    ['down, one success: the next tick', upAt(1, AT, T), 1_010_000],
  ];
  for (const [what, got, want] of table) it(what, () => assert.equal(got, want));

  it('an unknown view may settle either way: the earlier of the two', () => {
    const v: HealthView = {
      instance: 'a',
      state: 'unknown',
      okStreak: 1,
      failStreak: 0,
      lastError: null,
      lastCheck: new Date(AT).toISOString(),
      latencyMs: 1,
    };
    assert.equal(viewFlipAt(v, T), 1_010_000);
  });
});

const view = (instance: string, state: HealthView['state'], ok = 0, fail = 0): HealthView => ({
  instance,
  state,
  okStreak: ok,
  failStreak: fail,
  lastError: null,
  lastCheck: new Date(AT).toISOString(),
  latencyMs: 1,
});

describe('when a node could flip, over the instances’ views (quorum)', () => {
  it('is unknown while the quorum is', () => {
    assert.deepEqual(nodeBound([], T, 'majority', 60), { at: -Infinity, unknown: true });
    assert.equal(nodeBound([view('a', 'unknown')], T, 'majority', 60).unknown, true);
  });

  it('up with one view: that view going down', () => {
    assert.deepEqual(nodeBound([view('a', 'up', 5, 1)], T, 'majority', 60), {
      at: 1_010_000,
      unknown: false,
      up: true,
    });
  });

  it('up, majority of three with one down already: the earlier of the other two', () => {
    const views = [view('a', 'down', 0, 9), view('b', 'up', 5, 0), view('c', 'up', 0, 2)];
    assert.equal(nodeBound(views, T, 'majority', 60).at, 1_010_000);
  });

  it('up, majority of three, none down: the second earliest down (two must fall)', () => {
    const views = [view('a', 'up', 0, 2), view('b', 'up', 5, 0), view('c', 'up', 5, 0)];
    assert.equal(nodeBound(views, T, 'majority', 60).at, 1_020_000);
  });

  it('a view not down expiring first bounds it too (a smaller majority)', () => {
    const views = [view('a', 'up', 5, 0)];
    assert.equal(nodeBound(views, T, 'majority', 5).at, AT + 5000);
  });

  it('down: the earliest down view that could come back up', () => {
    const views = [view('a', 'down', 1, 0), view('b', 'down', 0, 4)];
    assert.equal(nodeBound(views, T, 1, 60).at, 1_020_000);
    assert.equal(nodeBound(views, T, 'majority', 60).at, 1_010_000);
  });
});

const SETTINGS = { floorSec: 5, unknownSec: 10 };

describe('the TTL a bound allows', () => {
  const now = 1_000_000;
  const bounds = new HealthBounds(SETTINGS, new Map());
  const clock = { bounds, now };
  const acc = (at: number, unknown?: string) => ({
    ...newBoundAcc(),
    at,
    node: 'n1',
    unknown,
  });
  const table: Array<[string, ReturnType<typeof boundTtl>, number, string]> = [
    ['no bound: the domain TTL', boundTtl(60, 'domain', newBoundAcc(), clock), 60, 'domain'],
    ['a flip beyond the TTL', boundTtl(60, 'domain', acc(now + 90_000), clock), 60, 'domain'],
    ['a flip in 30.9 s: 30', boundTtl(60, 'domain', acc(now + 30_900), clock), 30, 'health'],
    ['a flip in 2 s: the floor', boundTtl(60, 'domain', acc(now + 2000), clock), 5, 'floor'],
    ['a bound passed: the floor', boundTtl(60, 'domain', acc(now - 1), clock), 5, 'floor'],
    [
      'floor above the TTL: the TTL',
      boundTtl(3, 'failover', acc(now + 1000), clock),
      3,
      'failover',
    ],
    ['unknown: 10', boundTtl(60, 'domain', acc(Infinity, 'n2'), clock), 10, 'unknown'],
    ['unknown, a flip sooner', boundTtl(60, 'domain', acc(now + 7000, 'n2'), clock), 7, 'health'],
  ];
  for (const [what, got, ttl, by] of table)
    it(what, () => assert.deepEqual([got.ttl, got.by], [ttl, by]));

  it('counts a cached TTL down to the bound, not below the floor, and drops it after', () => {
    assert.equal(remainingTtl(60, Infinity, 5, now), 60);
    assert.equal(remainingTtl(30, now + 30_000, 5, now), 30);
    assert.equal(remainingTtl(30, now + 30_000, 5, now + 12_500), 17);
    assert.equal(remainingTtl(30, now + 30_000, 5, now + 28_000), 5);
    assert.equal(remainingTtl(30, now + 30_000, 5, now + 30_000), undefined);
  });
});

// --- decisions ------------------------------------------------------------------------

const config = finishConfig({});
const GEO = tableGeo([
  { cidr: '198.51.100.0/24', country: 'DE', continent: 'EU', lat: 50.11, lon: 8.68 },
  { cidr: '203.0.113.0/24', country: 'HK', continent: 'AS', lat: 22.32, lon: 114.17 },
]);
const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'] },
    hkg: { lat: 22.32, lon: 114.17, countries: ['HK'], continents: ['AS'] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
  },
  chain: ['country', 'default'],
  defaultPool: 'fra',
};

const node = (id: string, pool: string, n: number, v6: boolean, extra: Partial<EdgeNode> = {}) => ({
  id,
  pool,
  ipv4: `192.0.2.${n}`,
  ...(v6 ? { ipv6: `2001:db8::${n}` } : {}),
  weight: 100,
  active: true,
  ...extra,
});

const domain = (extra: Partial<Domain> = {}): Domain => ({
  domain: 'www.example.com',
  label: 'www-example-com',
  origins: [{ address: '203.0.113.200', protocol: 'http', weight: 1, backup: false }],
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  ...extra,
});

function snap(nodes: EdgeNode[], d: Domain = domain(), policy: unknown = POLICY): Snapshot {
  return buildSnapshot({
    config,
    state: {
      domains: [d],
      nodes,
      zoneText: null,
      policy: validate(GslbPolicy, structuredClone(policy), 'policy'),
    },
    generation: 1,
    serial: 1,
    contentHash: 'x',
  });
}

const ecs = (cidr: string): ClientSubnet => {
  const [a, len] = cidr.split('/') as [string, string];
  return {
    family: 1,
    sourcePrefix: Number(len),
    scopePrefix: 0,
    address: maskBytes(ipv4ToBytes(a), Number(len)),
  };
};

function decideFor(
  s: Snapshot,
  client: string,
  family: 4 | 6,
  clock?: Parameters<typeof decide>[5],
) {
  const plan = s.domains.get('www.example.com');
  assert.ok(plan);
  const loc = locate(
    { clientAddress: '127.0.0.1', ecs: ecs(client), useEcs: true },
    s.gslb.nets,
    GEO,
  );
  return decide(s.gslb, plan, family, loc, undefined, clock);
}

describe('a decision’s TTL follows the pools it consulted', () => {
  const nodes = [node('fra-1', 'fra', 11, true), node('hkg-1', 'hkg', 21, false)];
  const s = snap(nodes);
  const now = 5_000_000;
  const table = (entries: Array<[string, NodeBound]>) =>
    new HealthBounds(SETTINGS, new Map(entries));

  it('the chosen pool’s nodes bound it', () => {
    const b = table([
      ['fra-1', { at: now + 12_400, unknown: false }],
      ['hkg-1', { at: now + 7_000, unknown: false }],
    ]);
    const d = decideFor(s, '198.51.100.0/24', 4, { bounds: b, now });
    assert.deepEqual([d.pool, d.ttl, d.ttlBy, d.ttlNode], ['fra', 12, 'health', 'fra-1']);
    assert.equal(d.validUntil, now + 12_400);
  });

  it('a pool skipped on the way bounds it too: its node could come back', () => {
    // HK asks AAAA: hkg has no IPv6 node (skipped, consulted), fra answers.
    const b = table([
      ['fra-1', { at: now + 50_000, unknown: false }],
      ['hkg-1', { at: now + 8_000, unknown: false }],
    ]);
    const d = decideFor(s, '203.0.113.0/24', 4, { bounds: b, now });
    assert.deepEqual([d.pool, d.ttl], ['hkg', 8]);
  });

  it('a snapshot that has not caught up with a verdict gets the floor: the answer changes now', () => {
    // The quorum says fra-1 is down; this snapshot still has it healthy.
    const b = table([
      ['fra-1', { at: now + 50_000, unknown: false, up: false }],
      ['hkg-1', { at: now + 50_000, unknown: false, up: true }],
    ]);
    const d = decideFor(s, '198.51.100.0/24', 4, { bounds: b, now });
    assert.deepEqual([d.ttl, d.ttlBy, d.ttlNode], [5, 'floor', 'fra-1']);
  });

  it('a node the table does not know is unknown health', () => {
    const b = table([['fra-1', { at: now + 50_000, unknown: false }]]);
    const d = decideFor(s, '203.0.113.0/24', 4, { bounds: b, now });
    assert.deepEqual([d.ttl, d.ttlBy, d.ttlNode], [10, 'unknown', 'hkg-1']);
  });

  it('drained nodes and nodes no probe can flip do not bound it', () => {
    const s2 = snap([
      node('fra-1', 'fra', 11, true),
      node('fra-2', 'fra', 12, true, { mode: 'drain' }),
    ]);
    const b = table([['fra-1', { at: Infinity, unknown: false }]]);
    const d = decideFor(s2, '198.51.100.0/24', 4, { bounds: b, now });
    assert.deepEqual([d.ttl, d.ttlBy, d.validUntil], [60, 'domain', Infinity]);
  });
});

describe('the family step: a NODATA only when every client would get it', () => {
  // hkg has IPv4 only; the default pool is fra. HK clients asking AAAA used to get NODATA
  // through a chain ending in a pool without IPv6 when fra had none either.
  const nodes = [
    node('hkg-1', 'hkg', 21, false),
    node('fra-1', 'fra', 11, false),
    node('iad-1', 'iad', 31, true),
  ];

  it('answers from the nearest pool with the family, with the scope the decision holds for', () => {
    const s = snap(nodes);
    const trace = newTrace();
    const plan = s.domains.get('www.example.com');
    assert.ok(plan);
    const loc = locate(
      { clientAddress: '127.0.0.1', ecs: ecs('203.0.113.0/24'), useEcs: true },
      s.gslb.nets,
      GEO,
    );
    const d = decide(s.gslb, plan, 6, loc, trace);
    assert.deepEqual([d.decision, d.pool, d.source, d.scope], ['family', 'iad', 'edges', 24]);
    assert.match(JSON.stringify(trace.steps), /"step":"family"/);
    // A DE client gets the same node: both have the AAAA.
    assert.deepEqual(decideFor(s, '198.51.100.0/24', 6).nodes, ['iad-1']);
  });

  it('NODATA with scope 0 when no pool has the family and the origin has none', () => {
    const s = snap(nodes.filter((n) => n.id !== 'iad-1'));
    const d = decideFor(s, '203.0.113.0/24', 6);
    assert.deepEqual([d.source, d.scope], ['none', 0]);
  });

  it('fail-closed keeps its NODATA, with scope 0', () => {
    const s = snap(nodes, domain({ lastResort: 'fail-closed' }));
    const d = decideFor(s, '203.0.113.0/24', 6);
    assert.deepEqual([d.source, d.scope], ['none', 0]);
  });

  it('an origin address of the family still comes first for the backup last resort', () => {
    const s = snap(
      nodes,
      domain({
        origins: [
          { address: '203.0.113.200', protocol: 'http', weight: 1, backup: false },
          { address: '2001:db8:ffff::1', protocol: 'http', weight: 1, backup: false },
        ],
      }),
    );
    assert.equal(decideFor(s, '203.0.113.0/24', 6).source, 'origin');
  });
});

describe('cached answers count their TTL down to the health bound', () => {
  it('serves a repeat with the seconds left, and answers afresh after the bound', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 7_000_000 });
    const s = snap([node('fra-1', 'fra', 11, true)]);
    let bounds = new HealthBounds(
      SETTINGS,
      new Map([['fra-1', { at: 7_000_000 + 30_500, unknown: false }]]),
    );
    const decisions: unknown[] = [];
    const h = createHandler({
      snapshot: () => s,
      settings: {
        version: null,
        identity: null,
        geo: GEO,
        debug: null,
        onDecision: (d) => decisions.push(d),
        health: () => bounds,
      },
      udpSize: 1232,
      nsid: undefined,
      metrics: dnsMetrics(new Registry()),
      logger: silentLogger(),
    });
    const q = buildQuery({
      name: 'www-example-com.cdn.example.net',
      type: 1,
      opt: { options: [ecsOption(1, 24, 0, [198, 51, 100])] },
    });
    const ttlOf = (reply: unknown) => {
      const buf = reply as Buffer;
      const offsets = answerTtlOffsets(buf);
      assert.equal(offsets.length, 1);
      return buf.readUInt32BE(offsets[0] as number);
    };
    assert.equal(ttlOf(h(q, 'udp', '127.0.0.1', 5300)), 30);
    // A new round moves the bound on: decided afresh the answer would now get the domain
    // TTL, so the countdown below comes from the cached answer and its own bound.
    bounds = new HealthBounds(
      SETTINGS,
      new Map([['fra-1', { at: 7_000_000 + 80_000, unknown: false }]]),
    );
    t.mock.timers.tick(12_000);
    assert.equal(ttlOf(h(q, 'udp', '127.0.0.1', 5300)), 18, 'a cache hit, counted down');
    t.mock.timers.tick(16_000);
    assert.equal(ttlOf(h(q, 'udp', '127.0.0.1', 5300)), 5, 'the floor');
    // Past the cached answer's bound it is decided again, against the new bound.
    t.mock.timers.tick(3_000);
    assert.equal(ttlOf(h(q, 'udp', '127.0.0.1', 5300)), 49);
    assert.equal(decisions.length, 4, 'each query counts its decision, hit or not');
  });

  it('counts a NODATA’s negative TTL (its SOA) down the same way', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 9_000_000 });
    // fail-closed and its only node down: NODATA until the node could come back.
    const s = snap(
      [node('fra-1', 'fra', 11, true, { active: false })],
      domain({ lastResort: 'fail-closed' }),
    );
    const bounds = new HealthBounds(
      SETTINGS,
      new Map([['fra-1', { at: 9_000_000 + 30_500, unknown: false, up: false }]]),
    );
    const h = createHandler({
      snapshot: () => s,
      settings: {
        version: null,
        identity: null,
        geo: GEO,
        debug: null,
        onDecision: () => undefined,
        health: () => bounds,
      },
      udpSize: 1232,
      nsid: undefined,
      metrics: dnsMetrics(new Registry()),
      logger: silentLogger(),
    });
    const q = buildQuery({ name: 'www-example-com.cdn.example.net', type: 1, opt: {} });
    const soaTtl = (reply: unknown) => {
      const buf = reply as Buffer;
      assert.equal(buf.readUInt16BE(6), 0, 'no answer record');
      const offsets = answerTtlOffsets(buf);
      assert.equal(offsets.length, 1, 'the SOA');
      return buf.readUInt32BE(offsets[0] as number);
    };
    // The failover TTL (20) is below the zone's negative TTL (60) and the bound (30).
    assert.equal(soaTtl(h(q, 'udp', '127.0.0.1', 5300)), 20);
    t.mock.timers.tick(12_000);
    assert.equal(soaTtl(h(q, 'udp', '127.0.0.1', 5300)), 18);
  });
});
