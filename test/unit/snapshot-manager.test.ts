import { describe, it } from 'node:test';
import { repos } from '../helpers/repos.js';
import { snapshotSource } from '../../src/repositories.js';
import assert from 'node:assert/strict';
import { finishConfig } from '../../src/config/load.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { snapshotMetrics } from '../../src/snapshot/metrics.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import { nextSerial, serialGt } from '../../src/snapshot/serial.js';
import type { Domain } from '../../src/model/domain.js';

const config = finishConfig({ snapshot: { debounceMs: 5, maxDelayMs: 20 } });

function domain(name: string): Domain {
  return {
    domain: name,
    label: name.replace(/\./g, '-'),
    origins: [{ address: '203.0.113.1', protocol: 'http', weight: 1, backup: false }],
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
  };
}

async function setup(now = () => 1_800_000_000_000) {
  const store = new EmbeddedStore();
  await store.start();
  const registry = createRegistry(false);
  const manager = new SnapshotManager({
    config,
    store: snapshotSource(repos(store)),
    logger: silentLogger(),
    metrics: snapshotMetrics(registry),
    now,
  });
  await manager.start();
  const metric = async (name: string) =>
    (await registry.getSingleMetricAsString(name))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  return { store, manager, metric };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('snapshot manager', () => {
  it('rebuilds on a store change and publishes a new serial', async () => {
    const { store, manager } = await setup();
    const first = manager.current;
    await repos(store).domains.put(domain('www.example.com'));
    await wait(80);
    const second = manager.current;
    assert.notEqual(second, first);
    assert.ok(second.plans.has('www-example-com.cdn.example.net'));
    assert.ok(serialGt(second.serial, first.serial));
    await manager.stop();
  });

  it('coalesces a burst of changes into few builds', async () => {
    const { store, manager } = await setup();
    const gen = manager.current.generation;
    for (let i = 0; i < 50; i++) await repos(store).domains.put(domain(`d${i}.example.com`));
    await wait(100);
    assert.equal(manager.current.domains.size, 50);
    assert.ok(
      manager.current.generation - gen <= 5,
      `${manager.current.generation - gen} builds for 50 changes`,
    );
    await manager.stop();
  });

  it('keeps the previous snapshot serving when a build fails, and counts the failure', async () => {
    const { store, manager, metric } = await setup();
    await repos(store).zoneText.put(config.zone.name, 'www A 192.0.2.1');
    await manager.flush();
    const good = manager.current;
    await repos(store).zoneText.put(config.zone.name, 'www A 192.0.2.300');
    await manager.flush();
    assert.equal(manager.current, good, 'old snapshot still live');
    assert.match(manager.lastBuildError ?? '', /not an IPv4 address/);
    assert.match(await metric('cirrus_snapshot_builds_total'), /result="failed"} 1/);
    await repos(store).zoneText.put(config.zone.name, 'www A 192.0.2.3');
    await manager.flush();
    assert.notEqual(manager.current, good);
    assert.equal(manager.lastBuildError, undefined);
    await manager.stop();
  });

  it('keeps the serial when the content did not change', async () => {
    const { store, manager } = await setup();
    await repos(store).domains.put(domain('a.example.com'));
    await manager.flush();
    const s = manager.current.serial;
    await repos(store).domains.put(domain('a.example.com'));
    await manager.flush();
    assert.equal(manager.current.serial, s);
    await manager.stop();
  });

  it('fails start-up when the first build fails', async () => {
    const store = new EmbeddedStore();
    await store.start();
    await repos(store).zoneText.put(config.zone.name, 'x BOGUS 1');
    const manager = new SnapshotManager({
      config,
      store: snapshotSource(repos(store)),
      logger: silentLogger(),
      metrics: snapshotMetrics(createRegistry(false)),
    });
    await assert.rejects(manager.start(), /unknown type "BOGUS"/);
    await manager.stop();
  });

  it('keeps the live snapshot (and its warm caches) when a change leaves the content as it was', async () => {
    const { store, manager, metric } = await setup();
    await repos(store).domains.put(domain('www.example.com'));
    await manager.flush();
    const live = manager.current;
    // A token, an identical domain write and a peers write: no answer changes.
    await repos(store).tokens.put(
      { id: 't1', name: 'x', createdAt: '2026-01-01T00:00:00Z' },
      'h'.repeat(64),
    );
    await repos(store).domains.put(domain('www.example.com'));
    await manager.flush();
    assert.equal(manager.current, live);
    assert.match(await metric('cirrus_snapshot_builds_total'), /result="unchanged"} [1-9]/);
    // A challenge value is content: a new snapshot; a later expiry for the same value
    // keeps the serial but is a new snapshot too (its expiry timer moves).
    await repos(store).acme.putTxt({ name: 'abc', value: 'v', expiresAt: 1_800_000_600_000 });
    await manager.flush();
    const withTxt = manager.current;
    assert.notEqual(withTxt, live);
    assert.equal(withTxt.nextExpiry, 1_800_000_600_000);
    await repos(store).acme.putTxt({ name: 'abc', value: 'v', expiresAt: 1_800_000_900_000 });
    await manager.flush();
    assert.notEqual(manager.current, withTxt);
    assert.equal(manager.current.serial, withTxt.serial);
    assert.equal(manager.current.nextExpiry, 1_800_000_900_000);
    await manager.stop();
  });
});

describe('RFC 1982 serials', () => {
  it('compares across the wrap', () => {
    assert.ok(serialGt(1, 0));
    assert.ok(serialGt(0, 0xffffffff));
    assert.ok(
      !serialGt(0x80000000 + 5, 5) && !serialGt(5, 0x80000000 + 5),
      'undefined distance is neither',
    );
  });
  it('advances by one or jumps to the time floor', () => {
    assert.equal(nextSerial(undefined, 100), 100);
    assert.equal(nextSerial(100, 50), 101);
    assert.equal(nextSerial(100, 500), 500);
    assert.equal(nextSerial(0xffffffff, 3), 3);
  });
});
