// A state file written by the embedded store of version 1 (sections per feature; the
// fixture was written by that code, see test/fixtures/state-file/README.md) loads with
// every record, and is written back in the keyspace form on the next write.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { migrateStateFileV1 } from '../../src/state-file-v1.js';
import { repositories, snapshotSource } from '../../src/repositories.js';
import { SEEDED_KEY } from '../../src/domains/seed.js';

const fixture = new URL('../fixtures/state-file/v1.json', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'cirrus-v1-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ZONE = 'cdn.example.net.';

describe('a version 1 state file', () => {
  it('loads every record through the repositories, and is rewritten as version 2', async () => {
    const file = join(root, 'state.json');
    copyFileSync(fixture, file);
    const store = new EmbeddedStore({ file, migrate: migrateStateFileV1 });
    await store.start();
    const r = repositories(store);
    try {
      assert.deepEqual(
        (await r.domains.list()).map((d) => [d.domain, d.label, d.ttl]),
        [
          ['a.example.com', 'a-example-com', 30],
          ['b.example.com', 'b-example-com', undefined],
        ],
      );
      assert.deepEqual(await r.nodes.list(), [
        {
          id: 'edge-1',
          ipv4: '203.0.113.1',
          pool: 'default',
          weight: 100,
          active: true,
          region: 'eu',
          mode: 'drain',
          probe: { type: 'tcp', port: 8443 },
        },
        {
          id: 'edge-2',
          ipv6: '2001:db8::2',
          pool: 'hk',
          weight: 50,
          active: false,
          health: {
            state: 'down',
            okStreak: 0,
            failStreak: 3,
            checks: 9,
            failures: 3,
            lastError: 'timeout after 2000 ms',
            lastChange: '2024-03-01T00:00:00.000Z',
            lastCheck: '2024-03-01T00:00:05.000Z',
          },
        },
      ]);
      assert.equal(await r.zoneText.get(ZONE), 'www 300 IN A 192.0.2.80\n');
      assert.deepEqual(await r.tokens.list(), [
        { id: 't1', name: 'ci', createdAt: '2024-02-03T04:05:06.000Z' },
      ]);
      assert.equal(await r.tokens.idByHash('abc123'), 't1');
      assert.equal(await r.serials.advance(ZONE, 'h1', 0), 2024030100, 'same content, same serial');
      assert.equal(await store.get(SEEDED_KEY), 'zones/ at 2024-01-01T00:00:00.000Z');
      assert.deepEqual((await r.policy.get())?.defaultPool, 'default');
      assert.deepEqual(await r.acme.listTxt(Date.now()), [
        { name: '_acme-challenge.a.example.com.', value: 'tok-1', expiresAt: 4102444800000 },
      ]);
      assert.deepEqual(await r.acme.getDnsAccount('u1'), {
        username: 'u1',
        passwordHash: 'ph',
        subdomain: 'sub1',
        allowfrom: ['192.0.2.0/24'],
        createdAt: '2024-01-01T00:00:00.000Z',
      });
      assert.deepEqual(await r.acme.getState('a.example.com'), {
        domain: 'a.example.com',
        status: 'valid',
      });
      assert.deepEqual(await r.acme.getCertificate('a.example.com'), {
        cert: 'CERT',
        key: 'KEY',
        issuedAt: '2024-01-01T00:00:00.000Z',
        expiresAt: '2024-04-01T00:00:00.000Z',
      });
      assert.equal(await r.acme.claimKey({ account: true }, 'other'), 'ACCOUNT-PEM');
      assert.equal(await r.acme.claimKey({ domain: 'a.example.com' }, 'other'), 'CERTKEY-PEM');
      assert.equal((await r.xfr.getPeers())?.secondaries.length, 1);
      assert.deepEqual(await r.xfr.getZoneVersion(ZONE), {
        serial: 2024030101,
        soa: 'SOA2',
        records: ['r1', 'r2'],
      });
      assert.equal((await r.xfr.loadJournal(ZONE)).length, 1);
      const state = await snapshotSource(r).loadState(ZONE);
      assert.equal(state.domains.length, 2);

      await r.tokens.put({ id: 't2', name: 'new', createdAt: '2026-01-01T00:00:00.000Z' }, 'h2');
      await store.flush();
      const written = JSON.parse(readFileSync(file, 'utf8')) as { version: number };
      assert.equal(written.version, 2);
    } finally {
      await store.stop();
    }
    const again = new EmbeddedStore({ file });
    await again.start();
    try {
      assert.equal((await repositories(again).domains.list()).length, 2, 'version 2 reads alone');
      assert.equal(await repositories(again).tokens.idByHash('h2'), 't2');
    } finally {
      await again.stop();
    }
  });

  it('without a migration, a version 1 file is refused, naming it', async () => {
    const file = join(root, 'refused.json');
    copyFileSync(fixture, file);
    const store = new EmbeddedStore({ file });
    await assert.rejects(store.start(), (err: Error) => {
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /version 1/);
      return true;
    });
    await store.stop();
  });
});
