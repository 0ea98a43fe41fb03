// The cooperative snapshot build: the content hash fed a chunk at a time is the digest of
// the same JSON as before (so serials do not move on upgrade), and a build from the store
// hands the event loop back between chunks, so queries are answered while it runs.
import { describe, it } from 'node:test';
import { snapshotSource } from '../../src/repositories.js';
import { repos } from '../helpers/repos.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { finishConfig } from '../../src/config/load.js';
import { buildSteps } from '../../src/snapshot/build.js';
import { contentHash, contentHashSteps, type HashCarry } from '../../src/snapshot/content-hash.js';
import { BUILD_CHUNK, runSteps } from '../../src/snapshot/steps.js';
import { snapshotFromStore } from '../../src/snapshot/from-store.js';
import { drive } from '../../src/lib/cooperative.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { Domain, EdgeNode } from '../../src/model/domain.js';
import type { StoreState } from '../../src/snapshot/source.js';

const config = finishConfig({ seed: { dir: null }, store: { file: null } });

function domains(n: number): Domain[] {
  return Array.from({ length: n }, (_, i) => ({
    domain: `site-${i}.example.com`,
    label: `site-${i}-example-com`,
    origins: [{ address: '203.0.113.1', protocol: 'http' as const, weight: 1, backup: false }],
    ...(i % 3 === 0 ? { ttl: 30 } : {}),
    ...(i % 5 === 0 ? { pools: ['fra'] } : {}),
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  }));
}

const nodes: EdgeNode[] = [
  { id: 'b', ipv4: '192.0.2.2', pool: 'fra', weight: 100, active: true, mode: 'drain' },
  { id: 'a', ipv6: '2001:db8::1', pool: 'iad', weight: 50, active: false },
];

/** The digest as it was computed in one piece. */
function reference(state: StoreState): string {
  const ds = [...state.domains]
    .sort((a, b) => (a.domain < b.domain ? -1 : 1))
    .map((d) => [
      d.domain,
      d.label,
      d.origins,
      d.ttl ?? null,
      d.answers ?? null,
      d.chain ?? null,
      d.pools ?? null,
      d.lastResort ?? null,
      d.ecs ?? null,
      d.spread ?? null,
    ]);
  const ns = [...state.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((n) => [
      n.id,
      n.ipv4 ?? null,
      n.ipv6 ?? null,
      n.pool,
      n.weight,
      n.active,
      n.mode ?? 'auto',
    ]);
  const parts: unknown[] = [
    config.zone,
    config.gslb,
    state.zoneText ?? '',
    ds,
    ns,
    state.policy ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

describe('cooperative snapshot build', () => {
  it('hashes a chunked store to the digest of the whole JSON', () => {
    for (const n of [0, 1, BUILD_CHUNK, BUILD_CHUNK * 2 + 7]) {
      const state = {
        domains: domains(n),
        nodes,
        zoneText: n ? 'www 60 IN A 192.0.2.9\n' : null,
        policy: null,
      };
      assert.equal(contentHash(config, state), reference(state), `${n} domains`);
    }
  });

  it('continues from the last digest when the domains are the same objects, and only then', () => {
    let carry: HashCarry | undefined;
    const hash = (state: StoreState) => {
      const r = runSteps(contentHashSteps(config, state, carry));
      carry = r.carry;
      return r.digest;
    };
    const ds = domains(BUILD_CHUNK + 3);
    const state = { domains: ds, nodes, zoneText: null, policy: null };
    assert.equal(hash(state), reference(state));
    // A node change: same domain objects, another digest, still the whole JSON's.
    const moved = { ...state, domains: [...ds], nodes: [{ ...nodes[0]!, weight: 7 }, nodes[1]!] };
    assert.equal(hash(moved), reference(moved));
    assert.notEqual(hash(moved), hash(state));
    // One domain replaced (as the stores do on a write): its new content counts.
    const edited = [...ds];
    edited[5] = { ...ds[5]!, ttl: 77 };
    const changed = { ...state, domains: edited };
    assert.equal(hash(changed), reference(changed));
    assert.notEqual(hash(changed), hash(state));
    // Other zone settings are not the same head: no reuse across them.
    const text = { ...state, zoneText: 'www 60 IN A 192.0.2.9\n' };
    assert.equal(hash(text), reference(text));
    // Equal content in new objects: the same digest as the first.
    const copies = { ...state, domains: ds.map((d) => structuredClone(d)) };
    assert.equal(hash(copies), hash(state));
  });

  it('lets other callbacks run between chunks of a large build', async () => {
    const store = new EmbeddedStore();
    await store.start();
    for (const d of domains(BUILD_CHUNK * 5)) await repos(store).domains.put(d);
    const state = await snapshotSource(repos(store)).loadState(config.zone.name);
    let ticks = 0;
    let building = true;
    const tick = () => {
      ticks++;
      if (building) setImmediate(tick);
    };
    setImmediate(tick);
    // A zero slice hands the loop back at every yield: one turn per chunk at least.
    const { digest: hash } = await drive(contentHashSteps(config, state), 0);
    const snap = await drive(
      buildSteps({ config, state, generation: 1, serial: 1, contentHash: hash }),
      0,
    );
    building = false;
    assert.equal(snap.domains.size, BUILD_CHUNK * 5);
    assert.ok(ticks >= 9, `${ticks} turns of the event loop during the build`);
    // The default slice is time-based; the result is the same snapshot content.
    const again = await snapshotFromStore(config, snapshotSource(repos(store)), { generation: 1 });
    assert.equal(again.contentHash, hash);
    assert.equal(again.domains.size, BUILD_CHUNK * 5);
    await store.stop();
  });
});
