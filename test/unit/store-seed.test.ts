// Seeding an empty store from a folder: what is read, that a bad file writes nothing, and
// that the policy document counts as content.
import { after, describe, it } from 'node:test';
import { repos } from '../helpers/repos.js';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishConfig } from '../../src/config/load.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { isEmpty, seedStore } from '../../src/domains/seed.js';
import { GslbPolicy } from '../../src/gslb/policy-model.js';
import { validate } from '../../src/config/validate.js';

const root = mkdtempSync(join(tmpdir(), 'cirrus-seed-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function seedDir(files: Record<string, unknown>): string {
  const dir = join(root, `case-${++n}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files))
    writeFileSync(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  return dir;
}

const config = finishConfig({ seed: { dir: null }, store: { file: null } }, 'test config');

async function withStore(fn: (store: EmbeddedStore) => Promise<void>): Promise<void> {
  const store = new EmbeddedStore();
  await store.start();
  try {
    await fn(store);
  } finally {
    await store.stop();
  }
}

describe('seedStore and policy.json', () => {
  it('stores the policy with its defaults filled in', async () => {
    const dir = seedDir({
      'policy.json': { pools: { fra: { continents: ['EU'] } }, defaultPool: 'fra' },
      'nodes.json': [{ id: 'edge-1', ipv4: '192.0.2.1', pool: 'fra' }],
    });
    await withStore(async (store) => {
      const result = await seedStore(config, repos(store), dir);
      assert.deepEqual(result, { seeded: true, domains: 0, nodes: 1, records: 0, policy: true });
      const policy = await repos(store).policy.get();
      assert.equal(policy?.defaultPool, 'fra');
      assert.deepEqual(policy?.pools.fra, {
        continents: ['EU'],
        countries: [],
        asns: [],
        minHealthy: 1,
      });
      assert.deepEqual(policy?.chain, ['asn', 'country', 'continent', 'nearest', 'default']);
    });
  });

  it('refuses an invalid policy.json, naming the file and field, and writes nothing', async () => {
    const dir = seedDir({
      'policy.json': { chain: ['country', 'somewhere'] },
      'nodes.json': [{ id: 'edge-1', ipv4: '192.0.2.1' }],
    });
    await withStore(async (store) => {
      await assert.rejects(seedStore(config, repos(store), dir), (err: Error) => {
        assert.ok(err.message.includes(join(dir, 'policy.json')), err.message);
        assert.match(err.message, /chain\[1\]/);
        return true;
      });
      assert.equal(await isEmpty(repos(store), config.zone.name), true);
      assert.equal(await repos(store).policy.get(), null);
    });
  });

  it('leaves a store that already holds a policy alone', async () => {
    const dir = seedDir({ 'nodes.json': [{ id: 'edge-1', ipv4: '192.0.2.1' }] });
    await withStore(async (store) => {
      await repos(store).policy.put(validate(GslbPolicy, {}, 'policy'));
      const result = await seedStore(config, repos(store), dir);
      assert.equal(result.seeded, false, 'a stored policy is content');
      assert.deepEqual(await repos(store).nodes.list(), []);
    });
  });
});
