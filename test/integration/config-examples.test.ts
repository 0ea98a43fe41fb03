// Every example shipped in the repository loads: the example config files through the
// real config loader, and the seed folder `zones/` through the real seed into a fresh
// store, then through the snapshot compiler. An example that rots fails here first.
import { describe, it } from 'node:test';
import { snapshotSource } from '../../src/repositories.js';
import { repos } from '../helpers/repos.js';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finishConfig, loadConfig } from '../../src/config/load.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { seedStore } from '../../src/domains/seed.js';
import { parseZoneText } from '../../src/zone/parse.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { contentHash } from '../../src/snapshot/content-hash.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ZONES = join(REPO, 'zones');
/** The files under zones/ that seedStore reads; any other JSON there would go untested. */
const SEED_JSON = ['domains.json', 'nodes.json', 'policy.json'];

const testConfig = (zone = 'cdn.example.net') =>
  finishConfig({ zone: { name: zone }, seed: { dir: null }, store: { file: null } }, 'test config');

describe('example config files', () => {
  it('cirrus.example.yaml loads with no environment overrides', () => {
    const file = join(REPO, 'cirrus.example.yaml');
    assert.ok(existsSync(file), 'cirrus.example.yaml is missing');
    const config = loadConfig({ file, env: {} });
    assert.ok(config.zone.name.length > 0);
    assert.ok(config.dns.listen.length > 0);
    assert.ok(config.zone.soa.mname);
  });

  it('cirrus.example.yaml states the defaults it claims to (same config as no file)', () => {
    const file = join(REPO, 'cirrus.example.yaml');
    assert.ok(existsSync(file), 'cirrus.example.yaml is missing');
    assert.deepEqual(loadConfig({ file, env: {} }), loadConfig({ env: {} }));
  });

  it('every other *.example.{yaml,yml,json} at the top level loads', () => {
    const files = readdirSync(REPO).filter((f) => /\.example\.(ya?ml|json)$/.test(f));
    for (const f of files) {
      assert.doesNotThrow(() => loadConfig({ file: join(REPO, f), env: {} }), `${f} does not load`);
    }
  });
});

describe('seed examples under zones/', () => {
  it('holds only JSON files the seed reads', () => {
    const json = readdirSync(ZONES).filter((f) => f.endsWith('.json'));
    assert.ok(json.length > 0, 'zones/ holds no JSON example');
    for (const f of json)
      assert.ok(
        SEED_JSON.includes(f),
        `zones/${f} is not read by seedStore; teach this test to load it`,
      );
  });

  it('seeds a fresh store with every domain and node, and compiles to a snapshot without warnings', async () => {
    const config = testConfig();
    const store = new EmbeddedStore();
    await store.start();
    try {
      const result = await seedStore(config, repos(store), ZONES);
      assert.equal(result.seeded, true);
      const domainsFile = JSON.parse(readFileSync(join(ZONES, 'domains.json'), 'utf8')) as Array<{
        domain: string;
      }>;
      const nodesFile = JSON.parse(readFileSync(join(ZONES, 'nodes.json'), 'utf8')) as Array<{
        id: string;
      }>;
      assert.equal(result.domains, domainsFile.length);
      assert.equal(result.nodes, nodesFile.length);
      assert.deepEqual(
        (await repos(store).domains.list()).map((d) => d.domain).sort(),
        domainsFile.map((d) => d.domain).sort(),
      );
      assert.deepEqual(
        (await repos(store).nodes.list()).map((n) => n.id).sort(),
        nodesFile.map((n) => n.id).sort(),
      );
      assert.equal(
        await repos(store).zoneText.get(config.zone.name),
        readFileSync(join(ZONES, 'records.zone'), 'utf8'),
      );
      assert.equal(result.policy, true);
      const policyFile = JSON.parse(readFileSync(join(ZONES, 'policy.json'), 'utf8')) as {
        pools: Record<string, unknown>;
      };
      assert.deepEqual(
        Object.keys((await repos(store).policy.get())?.pools ?? {}).sort(),
        Object.keys(policyFile.pools).sort(),
      );

      const state = await snapshotSource(repos(store)).loadState(config.zone.name);
      const snapshot = buildSnapshot({
        config,
        state,
        generation: 1,
        serial: 1,
        contentHash: contentHash(config, state),
      });
      assert.deepEqual(snapshot.warnings, []);
      assert.equal(snapshot.domains.size, domainsFile.length);

      // A second seed into the now non-empty store is a no-op.
      assert.equal((await seedStore(config, repos(store), ZONES)).seeded, false);
    } finally {
      await store.stop();
    }
  });

  it('records.zone parses whatever the zone is called', () => {
    const text = readFileSync(join(ZONES, 'records.zone'), 'utf8');
    for (const zone of ['cdn.example.net', 'edge.example.com']) {
      const records = parseZoneText(text, { origin: zone, defaultTtl: 3600 });
      assert.ok(records.length > 0);
      for (const r of records)
        assert.ok(r.name === zone || r.name.endsWith(`.${zone}`), `${r.name} is outside ${zone}`);
    }
  });
});

describe('seeding runs once per store', () => {
  it('does not re-seed a store an operator emptied (regression: emptied store was re-seeded on restart)', async () => {
    const config = finishConfig({});
    const store = new EmbeddedStore();
    await store.start();
    const first = await seedStore(config, repos(store), 'zones');
    assert.equal(first.seeded, true);
    for (const d of await repos(store).domains.list()) await repos(store).domains.delete(d.domain);
    await repos(store).nodes.replace([]);
    assert.equal((await repos(store).domains.list()).length, 0);
    const second = await seedStore(config, repos(store), 'zones');
    assert.equal(second.seeded, false);
    assert.equal((await repos(store).domains.list()).length, 0);
    await store.stop();
  });
});
