// What a build carries over from the live snapshot. Memoised hash orders: a pool gets the
// memo of the previous pool that ranks the same (family, seeds and weights, in order), so
// a health change or a change in another pool keeps first answers warm; anything that
// changes the ranking starts an empty memo, and orders read from a kept memo stay exact.
// Plans: kept whole when the domains are the same objects and the policy is unchanged,
// with the fleets (default pools of limited domains) built from the new nodes. The static
// zone text's parse: kept while the text is the same. The content hash's continuation:
// handed from one snapshot built from the store to the next.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rankHead, hash32 } from '../../src/gslb/rendezvous.js';
import { FamilyPool, OrderMemos, type NodeEntry } from '../../src/gslb/plan.js';
import { finishConfig } from '../../src/config/load.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { DEFAULT_POLICY } from '../../src/gslb/pools.js';
import type { StoreState } from '../../src/snapshot/source.js';
import { buildFromStore } from '../../src/snapshot/from-store.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { repos } from '../helpers/repos.js';
import { snapshotSource } from '../../src/repositories.js';
import type { EdgeNode } from '../../src/model/domain.js';

function entries(n: number, weights: (i: number) => number, active = (_i: number) => true) {
  return Array.from({ length: n }, (_, i): NodeEntry => ({
    id: `n${i}`,
    pool: 'p',
    weight: weights(i),
    seed: hash32(`n${i}`),
    active: active(i),
    healthy: active(i),
    drained: false,
    a: Buffer.from([192, 0, 2, i]),
    aaaa: undefined,
  }));
}

describe('order memos', () => {
  it('hands a memo on only to a pool that ranks the same', () => {
    const first = new OrderMemos();
    const base = entries(30, () => 100);
    const memo = first.for(4, base);
    const next = new OrderMemos(first);
    // Health is not part of the ranking: the same memo.
    assert.equal(
      next.for(
        4,
        entries(
          30,
          () => 100,
          (i) => i !== 3,
        ),
      ),
      memo,
    );
    const other = new OrderMemos(first);
    assert.notEqual(other.for(6, base), memo, 'another family');
    assert.notEqual(
      other.for(
        4,
        entries(30, (i) => (i === 7 ? 99 : 100)),
      ),
      memo,
      'a weight changed',
    );
    assert.notEqual(
      other.for(
        4,
        entries(31, () => 100),
      ),
      memo,
      'a node added',
    );
    // Unclaimed memos are not carried further.
    assert.notEqual(new OrderMemos(new OrderMemos(first)).for(4, base), memo);
  });

  it('starts over when a memo holds more entries than the bound', () => {
    const first = new OrderMemos();
    const base = entries(10, () => 100);
    const pool = new FamilyPool(4, base, null, [], first);
    for (let k = 0; k < 50; k++) pool.head(k, 1);
    assert.notEqual(new OrderMemos(first, 20).for(4, base), first.for(4, base));
    assert.equal(new OrderMemos(first, 50).for(4, base), first.for(4, base));
  });

  it('answers from a handed-on memo exactly as from a fresh pool, after a node fails', () => {
    const before = new OrderMemos();
    const up = entries(40, (i) => 50 + (i % 3) * 50);
    const old = new FamilyPool(4, up, null, [], before);
    for (let k = 0; k < 200; k++) old.head(hash32(`d${k}`), 2);
    const down = entries(
      40,
      (i) => 50 + (i % 3) * 50,
      (i) => i % 5 !== 0,
    );
    const kept = new FamilyPool(4, down, null, [], new OrderMemos(before));
    for (let k = 0; k < 200; k++) {
      const key = hash32(`d${k}`);
      const head = kept.head(key, 2);
      // At least the first 2 eligible nodes, in rank order: a prefix of the fresh ranking.
      const fresh = rankHead(key, down, head.length);
      assert.deepEqual([...head], [...fresh], `key ${k}`);
      assert.ok([...head].filter((i) => down[i]?.active).length >= 2);
    }
  });
});

const config = finishConfig({ seed: { dir: null }, store: { file: null } });
const node = (id: string, pool: string, weight = 100, active = true): EdgeNode => ({
  id,
  ipv4: `192.0.2.${Number(id.slice(1))}`,
  pool,
  weight,
  active,
});

describe('order memos across snapshot builds', () => {
  const state = (nodes: EdgeNode[]): StoreState => ({
    domains: Array.from({ length: 20 }, (_, i) => ({
      domain: `d${i}.example.com`,
      label: `d${i}-example-com`,
      origins: [{ address: '203.0.113.1', protocol: 'http' as const, weight: 1, backup: false }],
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    })),
    nodes,
    zoneText: null,
    policy: null,
  });
  const input = { config, generation: 1, serial: 1, contentHash: 'x', now: 0 };
  const headOf = (s: ReturnType<typeof buildSnapshot>, pool: string) =>
    (s.gslb.pools.get(pool) as { v4: FamilyPool }).v4.head(hash32('d1.example.com'), 1);

  it('keeps the memo of every pool a change leaves ranking as before', () => {
    const nodes = [node('n1', 'a'), node('n2', 'a'), node('n3', 'b'), node('n4', 'b')];
    const a = buildSnapshot({ ...input, state: state(nodes) });
    const [a1, b1] = [headOf(a, 'a'), headOf(a, 'b')];
    // n2 goes down, n3's weight changes: pool a keeps its memo, pool b starts afresh.
    const changed = [
      node('n1', 'a'),
      node('n2', 'a', 100, false),
      node('n3', 'b', 50),
      node('n4', 'b'),
    ];
    const b = buildSnapshot({ ...input, state: state(changed), previousOrders: a.orderMemos });
    assert.equal(headOf(b, 'a').buffer, a1.buffer, 'pool a reads the same memo');
    assert.notEqual(headOf(b, 'b').buffer, b1.buffer, 'pool b was re-ranked');
    // The new snapshot keeps no link to the previous one's memos (no chain of snapshots).
    assert.equal((b.orderMemos as unknown as { previous?: unknown }).previous, undefined);
    // Without a previous snapshot, nothing is shared.
    const c = buildSnapshot({ ...input, state: state(changed) });
    assert.notEqual(headOf(c, 'a').buffer, a1.buffer);
  });
});

describe('plans kept across builds', () => {
  const domain = (i: number, pools?: string[]) => ({
    domain: `d${i}.example.com`,
    label: i === 99 ? 'd0-example-com' : `d${i}-example-com`,
    origins: [{ address: '203.0.113.1', protocol: 'http' as const, weight: 1, backup: false }],
    createdAt: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`,
    updatedAt: '2026-01-01T00:00:00Z',
    ...(pools ? { pools } : {}),
  });
  // d99 claims d0's base name: a clash warning the kept plans must repeat.
  const domains = [domain(0), domain(1, ['a']), domain(2), domain(99)];
  const input = { config, generation: 1, serial: 1, contentHash: 'x', now: 0 };
  const nodes = [node('n1', 'a'), node('n2', 'a'), node('n3', 'b')];
  const first = buildSnapshot({
    ...input,
    state: { domains, nodes, zoneText: null, policy: null },
  });

  it('keeps the plans when the domains are the same objects, with this build’s fleets', () => {
    const down = [node('n1', 'a', 100, false), node('n2', 'a', 50), node('n3', 'b')];
    const next = buildSnapshot({
      ...input,
      state: { domains: [...domains], nodes: down, zoneText: null, policy: null },
      previousPlans: first.planSource,
    });
    assert.equal(next.plans, first.plans);
    assert.deepEqual(next.warnings, first.warnings);
    assert.match(next.warnings.join('\n'), /d99\.example\.com skipped/);
    // The limited domain's default pool is this build's nodes: n1 down, n2 re-weighted.
    const fleet = next.gslb.fleets.get('a');
    assert.deepEqual(
      fleet?.v4.nodes.map((n) => [n.id, n.active, n.weight]),
      [
        ['n1', false, 100],
        ['n2', true, 50],
      ],
    );
    assert.notEqual(fleet, first.gslb.fleets.get('a'));
  });

  it('compiles the plans again when a domain or the policy changed', () => {
    const replaced = [domain(0), domain(1, ['a']), { ...domain(2), ttl: 30 }, domain(99)];
    const a = buildSnapshot({
      ...input,
      state: { domains: replaced, nodes, zoneText: null, policy: null },
      previousPlans: first.planSource,
    });
    assert.notEqual(a.plans, first.plans);
    assert.equal(a.plans.get(`d2-example-com.${config.zone.name}`)?.ttl, 30);
    const b = buildSnapshot({
      ...input,
      state: {
        domains,
        nodes,
        zoneText: null,
        policy: { ...DEFAULT_POLICY, lastResort: 'fail-closed' },
      },
      previousPlans: first.planSource,
    });
    assert.notEqual(b.plans, first.plans);
    assert.equal(b.plans.get(`d0-example-com.${config.zone.name}`)?.lastResort, 'fail-closed');
  });
});

describe('zone text and content hash carried across builds', () => {
  const input = { config, generation: 1, serial: 1, contentHash: 'x', now: 0 };
  const text = 'www 60 IN A 192.0.2.9\nmail 60 IN MX 10 mx.example.org.\n';
  const state = (zoneText: string | null): StoreState => ({
    domains: [],
    nodes: [],
    zoneText,
    policy: null,
  });

  it('keeps the static parse while the zone text is the same, and only then', () => {
    const first = buildSnapshot({ ...input, state: state(text) });
    assert.equal(first.statics?.records.length, 2);
    const same = buildSnapshot({ ...input, state: state(text), previousStatics: first.statics });
    assert.equal(same.statics, first.statics);
    const other = `${text}ftp 60 IN A 192.0.2.10\n`;
    const changed = buildSnapshot({
      ...input,
      state: state(other),
      previousStatics: first.statics,
    });
    assert.notEqual(changed.statics, first.statics);
    assert.equal(changed.statics?.records.length, 3);
    const none = buildSnapshot({ ...input, state: state(null), previousStatics: first.statics });
    assert.equal(none.statics, undefined);
  });

  it('hands the content hash continuation on to the next build from the store', async () => {
    const store = new EmbeddedStore();
    await store.start();
    const r = repos(store);
    await r.domains.put({
      domain: 'www.example.com',
      label: 'www-example-com',
      origins: [{ address: '203.0.113.1', protocol: 'http', weight: 1, backup: false }],
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    });
    await r.nodes.put(node('n1', 'a'));
    const first = (await buildFromStore(config, snapshotSource(r), { generation: 1, now: 0 }))
      .snapshot;
    assert.ok(first.hashCarry);
    // A node change: the same domain objects, so the digest continues from the carry.
    await r.nodes.put(node('n1', 'a', 50));
    const next = (
      await buildFromStore(config, snapshotSource(r), { generation: 2, previous: first, now: 0 })
    ).snapshot;
    assert.equal(next.hashCarry, first.hashCarry);
    assert.notEqual(next.contentHash, first.contentHash);
    await store.stop();
  });
});
