// The compact per-domain plan: shared settings give each domain the values its own fields
// and the defaults call for, origin answers encoded on first use follow the backup rule
// per family, the domain index answers like a map, and packed head memos read back as
// computed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { finishConfig } from '../../src/config/load.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { Domain, EdgeNode } from '../../src/model/domain.js';
import { hash32, rankHead } from '../../src/gslb/rendezvous.js';
import { FamilyPool, type NodeEntry } from '../../src/gslb/plan.js';
import { bytesToIPv4, bytesToIPv6 } from '../../src/lib/ip.js';

const config = finishConfig({ seed: { dir: null }, store: { file: null } });

function domain(name: string, origins: Domain['origins'], extra: Partial<Domain> = {}): Domain {
  return {
    domain: name,
    label: name.replace(/\./g, '-'),
    origins,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

const o = (address: string, backup = false) => ({
  address,
  protocol: 'http' as const,
  weight: 1,
  backup,
});

const NODES: EdgeNode[] = [
  { id: 'f1', pool: 'fra', ipv4: '192.0.2.1', weight: 100, active: true },
  { id: 'i1', pool: 'iad', ipv4: '192.0.2.2', ipv6: '2001:db8::2', weight: 100, active: true },
];

function build(domains: Domain[]) {
  return buildSnapshot({
    config,
    state: { domains, nodes: NODES, zoneText: null, policy: null },
    generation: 1,
    serial: 1,
    contentHash: 'x',
  });
}

const plan = (s: ReturnType<typeof build>, name: string) => {
  const p = s.domains.get(name);
  assert.ok(p, name);
  return p;
};

describe('compiled domain plans', () => {
  const snap = build([
    domain('a.example.com', [o('198.51.100.1')]),
    domain('b.example.com', [o('198.51.100.2'), o('198.51.100.3', true), o('2001:db8::9')]),
    domain('c.example.com', [o('Origin.Example.ORG.')]),
    domain('d.example.com', [o('origin.example.org'), o('2001:db8::7', true)], {
      ttl: 5,
      answers: 3,
      pools: ['fra'],
      lastResort: 'fail-closed',
      ecs: false,
      chain: ['default'],
    }),
    domain('e.example.com', [o('198.51.100.5')], { ttl: 5, answers: 3, pools: ['fra'] }),
    domain('f.example.com', [o('198.51.100.6')], { ttl: 5, answers: 3, pools: ['fra'] }),
    domain('g.example.com', [o('198.51.100.7')], { ttl: 500 }),
  ]);

  it('gives each domain its own settings or the defaults', () => {
    const a = plan(snap, 'a.example.com');
    assert.equal(a.ttl, config.gslb.ttl);
    assert.equal(a.failoverTtl, Math.min(config.gslb.ttl, config.gslb.failoverTtl));
    assert.equal(a.answers, config.gslb.answers);
    assert.deepEqual(a.chain, snap.gslb.chain);
    assert.equal(a.pools, undefined);
    assert.equal(a.fleetKey, undefined);
    assert.equal(a.lastResort, snap.gslb.lastResort);
    assert.equal(a.ecs, true);
    const d = plan(snap, 'd.example.com');
    assert.deepEqual(
      [d.ttl, d.failoverTtl, d.answers, d.lastResort, d.ecs, [...d.chain]],
      [5, 5, 3, 'fail-closed', false, ['default']],
    );
    assert.deepEqual([...(d.pools ?? [])], ['fra']);
    assert.equal(d.fleetKey, 'fra');
    const fleet = snap.gslb.fleets.get('fra');
    assert.equal(fleet?.name, 'fra');
    assert.deepEqual(
      fleet?.v4.nodes.map((n) => n.id),
      ['f1'],
    );
    const g = plan(snap, 'g.example.com');
    assert.deepEqual([g.ttl, g.failoverTtl], [500, config.gslb.failoverTtl]);
  });

  it('shares one settings object among domains configured alike', () => {
    const settings = (name: string) =>
      (plan(snap, name) as unknown as { settings: object }).settings;
    assert.equal(settings('a.example.com'), settings('b.example.com'));
    assert.equal(settings('e.example.com'), settings('f.example.com'));
    assert.notEqual(settings('e.example.com'), settings('d.example.com'));
    assert.notEqual(settings('a.example.com'), settings('g.example.com'));
    assert.equal(plan(snap, 'e.example.com').fleetKey, plan(snap, 'd.example.com').fleetKey);
  });

  it('answers backups first, per family, and a host only without any address', () => {
    const ips = (p: ReturnType<typeof plan>) => [
      p.fallbackA.map((b) => bytesToIPv4(b)),
      p.fallbackAAAA.map((b) => bytesToIPv6(b)),
      p.fallbackHost,
    ];
    assert.deepEqual(ips(plan(snap, 'a.example.com')), [['198.51.100.1'], [], undefined]);
    // A v4 backup hides the v4 primary, not the v6 one.
    assert.deepEqual(ips(plan(snap, 'b.example.com')), [
      ['198.51.100.3'],
      ['2001:db8::9'],
      undefined,
    ]);
    assert.deepEqual(ips(plan(snap, 'c.example.com')), [[], [], 'origin.example.org']);
    assert.deepEqual(ips(plan(snap, 'd.example.com')), [[], ['2001:db8::7'], undefined]);
    // Encoded once: later reads return the same buffers.
    const b = plan(snap, 'b.example.com');
    assert.equal(b.fallbackA, b.fallbackA);
  });

  it('keeps the unsigned hash of the domain as its key seed', () => {
    const names = Array.from({ length: 40 }, (_, i) => `s${i}.example.com`);
    const s = build(names.map((n) => domain(n, [o('198.51.100.1')])));
    assert.ok(names.some((n) => hash32(n) > 0x7fffffff));
    for (const n of names) assert.equal(plan(s, n).keySeed, hash32(n));
  });

  it('indexes plans by customer domain like a map', () => {
    const byDomain = new Map([...snap.plans.values()].map((p) => [p.domain, p]));
    assert.equal(snap.domains.size, byDomain.size);
    assert.deepEqual([...snap.domains.keys()], [...byDomain.keys()]);
    assert.deepEqual([...snap.domains], [...byDomain]);
    assert.equal(snap.domains.has('a.example.com'), true);
    assert.equal(snap.domains.has('a-example-com.' + config.zone.name), false);
    assert.equal(snap.domains.get('nope.example.com'), undefined);
    const seen: string[] = [];
    snap.domains.forEach((p, k) => seen.push(`${k}=${p.owner}`));
    assert.deepEqual(
      seen,
      [...byDomain].map(([k, p]) => `${k}=${p.owner}`),
    );
  });
});

describe('packed hash-order heads', () => {
  const nodes: NodeEntry[] = Array.from({ length: 300 }, (_, i) => ({
    id: `n${i}`,
    pool: 'p',
    weight: i % 9 === 0 ? 0 : 100,
    seed: hash32(`n${i}`),
    active: i % 4 !== 0,
    healthy: true,
    drained: false,
    a: Buffer.from([192, 0, 2, i & 0xff]),
    aaaa: undefined,
  }));
  const ineligible = nodes.filter((n) => n.weight > 0 && !n.active).length;

  it('reads back every memoised head as computed, across slab growth', () => {
    const pool = new FamilyPool(4, nodes);
    const keys = Array.from({ length: 500 }, (_, i) => hash32(`d${i}`));
    for (const round of [0, 1])
      for (const [i, k] of keys.entries()) {
        const want = 1 + (i % 3);
        assert.deepEqual(
          [...pool.head(k, want)],
          [...rankHead(k, nodes, want + ineligible)],
          `round ${round} key ${i}`,
        );
      }
  });

  it('widens a head when more nodes are wanted, never narrows it', () => {
    const pool = new FamilyPool(4, nodes);
    const k = hash32('wide');
    assert.equal(pool.head(k, 1).length, 1 + ineligible);
    assert.deepEqual([...pool.head(k, 8)], [...rankHead(k, nodes, 8 + ineligible)]);
    assert.deepEqual([...pool.head(k, 2)], [...rankHead(k, nodes, 8 + ineligible)]);
  });
});
