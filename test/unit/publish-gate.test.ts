// The publish gate's bounds, table-driven on gate views, and the manager holding a change
// beyond them while the live snapshot serves, until a release or the store's return.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { finishConfig } from '../../src/config/load.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { snapshotMetrics } from '../../src/snapshot/metrics.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import {
  breaches,
  GateViews,
  releases,
  RELEASE_WINDOW_MS,
  requestRelease,
  type GateView,
} from '../../src/snapshot/publish-gate.js';
import type { Domain, EdgeNode } from '../../src/model/domain.js';
import type { StoreState } from '../../src/snapshot/source.js';
import { snapshotSource } from '../../src/repositories.js';
import { repos } from '../helpers/repos.js';

const config = finishConfig({ snapshot: { debounceMs: 5, maxDelayMs: 20 } });
const bounds = config.snapshot.gate;

function view(
  names: number | string[],
  nodes: Record<string, string> = {},
  apex?: string,
): GateView {
  const list = typeof names === 'number' ? Array.from({ length: names }, (_, i) => `n${i}`) : names;
  return { names: new Set(list), nodes: new Map(Object.entries(nodes)), apex };
}

const fleet = { a1: 'fra', a2: 'fra', b1: 'iad', b2: 'iad', c1: 'hkg', c2: 'hkg' };

describe('gate views of store states', () => {
  const state = (domains: Domain[]): StoreState => ({
    domains,
    nodes: [],
    zoneText: null,
    policy: null,
  });
  const domains = Array.from({ length: 20 }, (_, i) => ({ label: `d${i}` }) as Domain);

  it('share one name set while the domain objects are the same, and still see lost names', () => {
    const views = new GateViews();
    const gateView = (s: StoreState) => views.view(s);
    const live = gateView(state(domains));
    // A node or health change: a new list of the very same domain objects.
    const same = gateView(state([...domains]));
    assert.equal(same.names, live.names);
    assert.deepEqual(breaches(live, same, bounds), []);
    // Five of twenty replaced by new objects with other labels: a new set, and the loss seen.
    const changed = domains.map((d, i) => (i < 5 ? ({ label: `new${i}` } as Domain) : d));
    const next = gateView(state(changed));
    assert.notEqual(next.names, live.names);
    assert.deepEqual(
      breaches(live, next, bounds).map((b) => b.reason),
      ['names-lost'],
    );
    assert.equal(next.names.has('d3'), false);
    // Back to the first list: its set is built again from it, not the last one reused.
    const back = gateView(state(domains));
    assert.equal(back.names.has('d3'), true);
    assert.equal(back.names.has('new3'), false);
    // Another manager's views keep a memo of their own.
    assert.notEqual(new GateViews().view(state(domains)).names, back.names);
  });
});

describe('publish gate bounds', () => {
  const cases: Array<[string, GateView, GateView, string[]]> = [
    ['identical content passes', view(50, fleet), view(50, fleet), []],
    ['one name of two lost passes (a single delete)', view(2), view(['n0']), []],
    ['2 of 10 names lost (20 % > 10 %)', view(10, fleet), view(8, fleet), ['names-lost']],
    ['1 of 1000 names lost passes', view(1000, fleet), view(999, fleet), []],
    ['99 of 1000 names lost (9.9 %) passes', view(1000, fleet), view(901, fleet), []],
    ['101 of 1000 names lost (10.1 %)', view(1000, fleet), view(899, fleet), ['names-lost']],
    ['101 of 100,000 names lost (over 100)', view(100_000), view(99_899), ['names-lost']],
    ['100 of 100,000 names lost passes', view(100_000), view(99_900), []],
    ['names added pass', view(10), view(2000), []],
    [
      'the store emptied',
      view(3, fleet),
      view(0),
      ['store-emptied', 'names-lost', 'pool-drained', 'nodes-lost'],
    ],
    ['an empty store filling passes', view(0), view(10, fleet), []],
    [
      'both nodes of pool hkg gone',
      view(5, fleet),
      view(5, { a1: 'fra', a2: 'fra', b1: 'iad', b2: 'iad' }),
      ['pool-drained'],
    ],
    [
      'one node of each pool gone (3 of 6, not over half)',
      view(5, fleet),
      view(5, { a1: 'fra', b1: 'iad', c1: 'hkg' }),
      [],
    ],
    [
      '4 of 6 nodes gone, pools kept',
      view(5, fleet),
      view(5, { a1: 'fra', b1: 'iad' }),
      ['pool-drained', 'nodes-lost'],
    ],
    [
      'a pool whose nodes were replaced by new ids keeps serving',
      view(5, fleet),
      view(5, { a1: 'fra', a2: 'fra', b1: 'iad', b2: 'iad', c3: 'hkg' }),
      [],
    ],
    [
      'a node moved to another pool is not a loss',
      view(5, { a1: 'fra', c1: 'hkg' }),
      view(5, { a1: 'fra', c1: 'fra' }),
      [],
    ],
    [
      'the whole fleet replaced by as many new nodes keeps its capacity',
      view(5, { a1: 'fra', a2: 'fra' }),
      view(5, { n1: 'fra', n2: 'fra', n3: 'iad' }),
      [],
    ],
    [
      '4 of 6 nodes gone, one new',
      view(5, fleet),
      view(5, { a1: 'fra', b1: 'iad', n1: 'hkg' }),
      [],
    ],
    [
      '5 of 6 nodes gone, one new',
      view(5, fleet),
      view(5, { a1: 'fra', n1: 'iad' }),
      ['pool-drained', 'nodes-lost'],
    ],
    ['the apex changing', view(5, fleet, 'ns1'), view(5, fleet, 'ns2'), ['apex-changed']],
    ['an unknown apex is not compared', view(5, fleet, 'ns1'), view(5, fleet), []],
  ];
  for (const [name, live, next, want] of cases) {
    it(name, () => {
      assert.deepEqual(
        breaches(live, next, bounds).map((b) => b.reason),
        want,
      );
    });
  }

  it('names what crossed the bound', () => {
    const [b] = breaches(view(10), view(['n0', 'n1', 'n2']), bounds);
    assert.equal(b?.detail, '7 of 10 served base names would disappear (n3, n4, n5, n6, n7, …)');
  });

  it('honours configured bounds', () => {
    const loose = { ...bounds, maxLostNamesShare: 0.5, maxLostNames: 1000, maxLostNodesShare: 0.9 };
    assert.deepEqual(breaches(view(10), view(6), loose), []);
    assert.deepEqual(
      breaches(view(10), view(4), loose).map((b) => b.reason),
      ['names-lost'],
    );
  });

  it('a release marker admits once, and only while fresh', () => {
    const now = 1_800_000_000_000;
    const marker = `${now}-x`;
    assert.equal(releases(marker, undefined, now + 1000), true);
    assert.equal(releases(marker, marker, now + 1000), false, 'already used');
    assert.equal(releases(marker, undefined, now + RELEASE_WINDOW_MS + 1), false, 'stale');
    assert.equal(releases(undefined, undefined, now), false);
    assert.equal(releases('garbage', undefined, now), false);
  });
});

function domain(i: number): Domain {
  return {
    domain: `d${i}.example.com`,
    label: `d${i}-example-com`,
    origins: [{ address: '203.0.113.1', protocol: 'http', weight: 1, backup: false }],
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
  };
}

function node(id: string, pool: string): EdgeNode {
  return { id, ipv4: '192.0.2.10', pool, weight: 100, active: true };
}

async function setup() {
  const store = new EmbeddedStore();
  await store.start();
  const r = repos(store);
  for (let i = 0; i < 20; i++) await r.domains.put(domain(i));
  for (const [id, pool] of Object.entries(fleet)) await r.nodes.put(node(id, pool));
  const registry = createRegistry(false);
  const manager = new SnapshotManager({
    config: finishConfig({ snapshot: { debounceMs: 5, maxDelayMs: 20, gate: { recheckMs: 100 } } }),
    store: snapshotSource(r),
    logger: silentLogger(),
    metrics: snapshotMetrics(registry),
  });
  await manager.start();
  const metric = async (name: string) =>
    (await registry.getSingleMetricAsString(name))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  return { r, manager, metric };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('snapshot manager with the publish gate', () => {
  it('holds a change beyond bounds, keeps serving, publishes it on release', async () => {
    const { r, manager, metric } = await setup();
    const live = manager.current;
    assert.equal(live.domains.size, 20);
    for (let i = 0; i < 5; i++) await r.domains.delete(`d${i}.example.com`);
    await manager.flush();
    assert.equal(manager.current, live, 'the live snapshot keeps serving');
    const held = manager.heldChange;
    assert.deepEqual(
      held?.breaches.map((b) => b.reason),
      ['names-lost'],
    );
    assert.equal(held?.domains, 15);
    assert.match(
      await metric('cirrus_snapshot_held'),
      /cirrus_snapshot_held\{reason="names-lost"\} 1/,
    );
    assert.match(await metric('cirrus_snapshot_builds_total'), /result="held"\} [1-9]/);
    await manager.release();
    assert.equal(manager.heldChange, undefined);
    assert.equal(manager.current.domains.size, 15, 'released: published');
    assert.match(await metric('cirrus_snapshot_held'), /reason="names-lost"\} 0/);
    // The marker was used: a later breach is held again.
    for (let i = 5; i < 10; i++) await r.domains.delete(`d${i}.example.com`);
    await manager.flush();
    assert.equal(manager.current.domains.size, 15);
    assert.ok(manager.heldChange);
    await manager.stop();
  });

  it('lets go of the hold when the store returns within bounds', async () => {
    const { r, manager } = await setup();
    const live = manager.current;
    await r.nodes.delete('c1');
    await r.nodes.delete('c2');
    await manager.flush();
    assert.deepEqual(
      manager.heldChange?.breaches.map((b) => b.reason),
      ['pool-drained'],
    );
    await r.nodes.put(node('c1', 'hkg'));
    await manager.flush();
    assert.equal(manager.heldChange, undefined);
    assert.notEqual(manager.current, live, 'the in-bounds content (c2 gone) is published');
    assert.equal(manager.current.nodes.length, 5);
    await manager.stop();
  });

  it('never holds health changes', async () => {
    const { r, manager } = await setup();
    for (const id of Object.keys(fleet)) {
      await r.nodes.setHealth(id, false, {
        state: 'down',
        okStreak: 0,
        failStreak: 3,
        checks: 3,
        failures: 3,
        lastError: 'refused',
        lastChange: null,
        lastCheck: null,
      });
    }
    await manager.flush();
    assert.equal(manager.heldChange, undefined);
    assert.ok(manager.current.nodes.every((n) => !n.healthy));
    await manager.stop();
  });

  it('a release written by another instance reaches a holding manager', async () => {
    const { r, manager } = await setup();
    for (const id of ['a1', 'a2', 'b1', 'b2']) await r.nodes.delete(id);
    await manager.flush();
    assert.ok(manager.heldChange);
    await requestRelease(r.releases);
    for (let i = 0; i < 50 && manager.heldChange; i++) await wait(20);
    assert.equal(manager.heldChange, undefined);
    assert.equal(manager.current.nodes.length, 2);
    await manager.stop();
  });

  it('checkWrite judges a write against the live content without touching the store', async () => {
    const { r, manager } = await setup();
    const drain = manager.checkWrite((s) => ({
      ...s,
      nodes: s.nodes.filter((n) => n.pool !== 'fra'),
    }));
    assert.deepEqual(
      drain.map((b) => b.reason),
      ['pool-drained'],
    );
    assert.deepEqual(
      manager.checkWrite((s) => ({ ...s, nodes: s.nodes.filter((n) => n.id !== 'a1') })),
      [],
    );
    assert.equal((await r.nodes.list()).length, 6);
    await manager.stop();
  });
});
