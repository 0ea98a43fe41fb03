// The CSK rollover: its timings from the zone's TTLs (RFC 7583 §3.3), the phases a key list
// goes through, what the apex serves at each one, the refusals, the API routes through
// app.inject, and the snapshot manager building each key event on time without a store write.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  beginRollover,
  confirmDs,
  rolloverStatus,
  rolloverTimings,
  type RolloverParameters,
} from '../../src/dnssec/rollover.js';
import { apexKeyRecords, keySetAt, newStoredKey, type StoredKey } from '../../src/dnssec/keys.js';
import { Algorithm } from '../../src/dnssec/algorithm.js';
import { dsRdata, dsText } from '../../src/dnssec/records.js';
import { ensureZoneKey } from '../../src/dnssec/key-repository.js';
import { finishConfig } from '../../src/config/load.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { snapshotMetrics } from '../../src/snapshot/metrics.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import { snapshotSource } from '../../src/repositories.js';
import { rolloverParameters, zoneMaxTtl } from '../../src/snapshot/rollover-parameters.js';
import { StoreUnavailableError } from '../../src/lib/errors.js';
import { repos } from '../helpers/repos.js';
import { buildApiApp, type ApiApp } from '../helpers/api-app.js';
import { RRType } from '../../src/wire/constants.js';

const DEFAULTS: RolloverParameters = {
  dnskeyTtl: 3600,
  maxZoneTtl: 3600,
  propagationDelay: 3600,
  parentDsTtl: 86400,
  parentPropagationDelay: 3600,
  timescale: 1,
};

describe('rollover timings', () => {
  const cases: Array<[string, Partial<RolloverParameters>, [number, number, number]]> = [
    // [publish→activate, confirm→retire, retire→remove] in seconds
    ['defaults', {}, [7200, 90000, 7200]],
    ['long DNSKEY TTL', { dnskeyTtl: 86400 }, [90000, 90000, 90000]],
    ['a static record of a day', { maxZoneTtl: 86400 }, [7200, 90000, 90000]],
    ['fast secondaries', { propagationDelay: 60 }, [3660, 90000, 3660]],
    ['short parent DS TTL', { parentDsTtl: 3600, parentPropagationDelay: 300 }, [7200, 3900, 7200]],
    ['timescale 1/100', { timescale: 0.01 }, [72, 900, 72]],
  ];
  for (const [name, p, [ipub, retire, remove]] of cases)
    it(name, () => {
      const t = rolloverTimings({ ...DEFAULTS, ...p });
      assert.deepEqual(
        [t.publishToActivateMs, t.confirmToRetireMs, t.retireToRemoveMs],
        [ipub * 1000, retire * 1000, remove * 1000],
      );
    });
  it('refuses a negative or non-finite parameter', () => {
    assert.throws(() => rolloverTimings({ ...DEFAULTS, dnskeyTtl: -1 }), /dnskeyTtl/);
    assert.throws(() => rolloverTimings({ ...DEFAULTS, maxZoneTtl: NaN }), /maxZoneTtl/);
  });
});

/** The zone's apex key records at `now`: DNSKEY tags, and the tag CDS names. */
function apex(keys: readonly StoredKey[], now: number) {
  const set = keySetAt(keys, now);
  const recs = apexKeyRecords('example.net', set, 3600);
  const tags = (type: number) => recs.filter((r) => r.type === type).map((r) => r.rdata);
  return {
    dnskeys: tags(RRType.DNSKEY).length,
    cds: tags(RRType.CDS).map((rd) => rd.readUInt16BE(0)),
    signing: set.signing.map((k) => k.tag),
  };
}

describe('a rollover through its phases', () => {
  const T = rolloverTimings({ ...DEFAULTS, timescale: 0.001 }); // 7.2 s, 90 s, 7.2 s
  const t0 = 1_800_000_000_000;
  const old = newStoredKey(Algorithm.ECDSAP256SHA256, t0 - 86_400_000);
  const oldTag = keySetAt([old], t0).signing[0]?.tag as number;

  it('walks pre-publication, double signature, DS propagation, retired, removed', () => {
    assert.equal(rolloverStatus([old], t0).phase, 'idle');
    const fresh = newStoredKey(Algorithm.ECDSAP256SHA256, t0);
    let keys = beginRollover([old], fresh, t0, T);
    const newTag = keySetAt(keys, t0 + T.publishToActivateMs).signing.find((k) => k.tag !== oldTag)
      ?.tag as number;

    // Pre-publication: both DNSKEYs, the old key alone signs, CDS names the old key.
    let s = rolloverStatus(keys, t0 + 1);
    assert.equal(s.phase, 'pre-publication');
    assert.deepEqual(s.next, { event: 'activate', key: fresh.id, at: t0 + T.publishToActivateMs });
    assert.deepEqual(apex(keys, t0 + 1), { dnskeys: 2, cds: [oldTag], signing: [oldTag] });

    // Double signature from Ipub: both sign, CDS moves to the new key; no retirement planned.
    const t1 = t0 + T.publishToActivateMs;
    s = rolloverStatus(keys, t1);
    assert.equal(s.phase, 'double-signature');
    assert.equal(s.next, undefined);
    assert.deepEqual(apex(keys, t1), { dnskeys: 2, cds: [newTag], signing: [oldTag, newTag] });

    // The operator confirms the parent DS: retirement after DprpP + TTLds, removal Iret later.
    const t2 = t1 + 5_000;
    keys = confirmDs(keys, t2, T);
    s = rolloverStatus(keys, t2);
    assert.equal(s.phase, 'ds-propagation');
    assert.deepEqual(s.next, { event: 'retire', key: old.id, at: t2 + T.confirmToRetireMs });
    assert.deepEqual(apex(keys, t2), { dnskeys: 2, cds: [newTag], signing: [oldTag, newTag] });

    const t3 = t2 + T.confirmToRetireMs;
    s = rolloverStatus(keys, t3);
    assert.equal(s.phase, 'old-retired');
    assert.deepEqual(s.next, { event: 'remove', key: old.id, at: t3 + T.retireToRemoveMs });
    assert.deepEqual(apex(keys, t3), { dnskeys: 2, cds: [newTag], signing: [newTag] });

    const t4 = t3 + T.retireToRemoveMs;
    s = rolloverStatus(keys, t4);
    assert.equal(s.phase, 'idle');
    assert.equal(s.next, undefined);
    assert.deepEqual(apex(keys, t4), { dnskeys: 1, cds: [newTag], signing: [newTag] });

    // The next rollover drops the removed key from the list.
    const third = newStoredKey(Algorithm.ECDSAP256SHA256, t4 + 1);
    const again = beginRollover(keys, third, t4 + 1, T);
    assert.deepEqual(
      again.map((k) => k.id),
      [fresh.id, third.id],
    );
  });

  it('refuses a second rollover while one is in progress, at every phase', () => {
    let keys = beginRollover([old], newStoredKey(13, t0), t0, T);
    const other = newStoredKey(13, t0 + 2);
    assert.throws(
      () => beginRollover(keys, other, t0 + 1, T),
      (e: Error & { status?: number }) =>
        e.status === 409 && /in progress \(pre-publication/.test(e.message),
    );
    const t1 = t0 + T.publishToActivateMs;
    assert.throws(() => beginRollover(keys, other, t1, T), /double-signature.*rollover\/complete/);
    keys = confirmDs(keys, t1, T);
    assert.throws(() => beginRollover(keys, other, t1 + 1, T), /ds-propagation/);
    assert.throws(() => beginRollover(keys, other, t1 + T.confirmToRetireMs, T), /old-retired/);
    assert.throws(() => beginRollover([], other, t0, T), /no DNSSEC key/);
  });

  it('refuses the DS confirmation before the new key signs, twice, or without a rollover', () => {
    assert.throws(() => confirmDs([old], t0, T), /no key rollover is in progress/);
    const keys = beginRollover([old], newStoredKey(13, t0), t0, T);
    assert.throws(
      () => confirmDs(keys, t0 + 1, T),
      (e: Error & { status?: number }) =>
        e.status === 409 && /signs from .*only from then/.test(e.message),
    );
    const confirmed = confirmDs(keys, t0 + T.publishToActivateMs, T);
    assert.throws(
      () => confirmDs(confirmed, t0 + T.publishToActivateMs + 1, T),
      /already confirmed \(ds-propagation\)/,
    );
  });
});

const zoneConfig = (extra: Record<string, unknown> = {}) =>
  finishConfig(
    {
      snapshot: { debounceMs: 5, maxDelayMs: 20, lkgFile: null },
      seed: { dir: null },
      store: { file: null },
      dnssec: { enabled: true, ...extra },
    },
    'test config',
  );

describe('the snapshot follows the key times', () => {
  it('rebuilds at each key event with no store write: DNSKEY, signers and serial change', async () => {
    const config = zoneConfig();
    const store = new EmbeddedStore();
    await store.start();
    const r = repos(store);
    const now = Date.now();
    const { keys } = await ensureZoneKey(r.dnssec, config.zone.name, 13, now - 60_000);
    const manager = new SnapshotManager({
      config,
      store: snapshotSource(r),
      logger: silentLogger(),
      metrics: snapshotMetrics(createRegistry(false)),
    });
    await manager.start();
    try {
      // A rollover with 0.6 s pre-publication, confirmed at once, retire 0.6 s later, remove 0.6 s after.
      const T = { publishToActivateMs: 600, confirmToRetireMs: 600, retireToRemoveMs: 600 };
      const t0 = Date.now();
      let next = beginRollover(keys, newStoredKey(13, t0), t0, T);
      next = confirmDs(next, t0 + 600, T);
      assert.deepEqual(
        await r.dnssec.edit(config.zone.name, () => ({ keys: next, result: 'written' })),
        'written',
      );
      await manager.flush();
      const seen: Array<{ dnskeys: number; signers: number; serial: number }> = [];
      const look = () => {
        const s = manager.current;
        const dnskeys = [...s.zone.records()].filter((x) => x.type === RRType.DNSKEY).length;
        const last = seen.at(-1);
        const signers = s.signer?.keys.length ?? 0;
        if (!last || last.dnskeys !== dnskeys || last.signers !== signers)
          seen.push({ dnskeys, signers, serial: s.serial });
      };
      const deadline = Date.now() + 4_000;
      while (Date.now() < deadline) {
        look();
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.deepEqual(
        seen.map(({ dnskeys, signers }) => [dnskeys, signers]),
        [
          [2, 1], // pre-publication
          [2, 2], // double signature (retire is due 0.6 s after activation)
          [2, 1], // old retired
          [1, 1], // old removed
        ],
      );
      for (let i = 1; i < seen.length; i++)
        assert.ok(
          (seen[i]?.serial ?? 0) > (seen[i - 1]?.serial ?? 0),
          'each step bumps the serial',
        );
    } finally {
      await manager.stop();
      await store.stop();
    }
  });

  it("builds a due time beyond setTimeout's 24.8-day range (regression: the capped timer was not armed again)", async (t) => {
    // refreshDays 60: a re-signing period of 30 days, begun 1 s before the start.
    const config = zoneConfig({ refreshDays: 60, validityDays: 90 });
    const period = 30 * 86_400_000;
    const t0 = Math.ceil(Date.now() / period) * period + 1_000;
    const store = new EmbeddedStore();
    await store.start();
    const r = repos(store);
    await ensureZoneKey(r.dnssec, config.zone.name, 13, t0 - 60_000);
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: t0 });
    const manager = new SnapshotManager({
      config,
      store: snapshotSource(r),
      logger: silentLogger(),
      metrics: snapshotMetrics(createRegistry(false)),
    });
    const turn = () => new Promise((res) => setImmediate(res));
    /** Moves the mocked clock by `ms` in 1 s steps, letting builds run between them. */
    const advance = async (ms: number) => {
      for (let done = 0; done < ms;) {
        const step = Math.min(1_000, ms - done);
        t.mock.timers.tick(step);
        done += step;
        for (let i = 0; i < 3; i++) await turn();
      }
    };
    try {
      await manager.start();
      const first = manager.current;
      assert.equal(first.nextExpiry, t0 - 1_000 + period);
      // The timer is capped at 2^31-1 ms; when it fires nothing has changed yet.
      t.mock.timers.tick(0x7fffffff);
      await advance(2_000);
      assert.equal(manager.current, first);
      // The rest of the period: the new one begins, and with it a new snapshot and serial.
      t.mock.timers.tick(period - 0x7fffffff - 4_000);
      await advance(3_000);
      assert.notEqual(manager.current, first, 'the period boundary was built');
      assert.ok(manager.current.serial > first.serial);
    } finally {
      t.mock.timers.reset();
      await manager.stop();
      await store.stop();
    }
  });

  it('derives the parameters from the zone it serves', async () => {
    const config = zoneConfig({ keyTtl: 300, parentDsTtl: 7200, rolloverTimescale: 0.5 });
    const store = new EmbeddedStore();
    await store.start();
    const r = repos(store);
    await ensureZoneKey(r.dnssec, config.zone.name, 13);
    await r.zoneText.put(config.zone.name, 'long 172800 IN TXT "a record of two days"\n');
    const manager = new SnapshotManager({
      config,
      store: snapshotSource(r),
      logger: silentLogger(),
      metrics: snapshotMetrics(createRegistry(false)),
    });
    await manager.start();
    try {
      assert.equal(zoneMaxTtl(manager.current), 172800);
      assert.deepEqual(rolloverParameters(config, manager.current), {
        dnskeyTtl: 300,
        maxZoneTtl: 172800,
        propagationDelay: 3600,
        parentDsTtl: 7200,
        parentPropagationDelay: 3600,
        timescale: 0.5,
      });
    } finally {
      await manager.stop();
      await store.stop();
    }
  });
});

/** Parsed JSON body; `any`: each case reads the fields it pins. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: { body: string }): any => JSON.parse(res.body);

describe('/api/v1/dnssec', () => {
  let api: ApiApp;
  before(async () => {
    api = await buildApiApp({ dnssec: { enabled: true, keyTtl: 300 } });
    await ensureZoneKey(api.cirrus.repos.dnssec, api.config.zone.name, 13);
    await api.cirrus.flush();
  });
  after(async () => api?.close());

  it('GET lists the key with DNSKEY and DS text, never the private key', async () => {
    const res = await api.call('GET', '/api/v1/dnssec');
    assert.equal(res.statusCode, 200, res.body);
    assert.doesNotMatch(res.body, /PRIVATE|privateKey/);
    const body = json(res);
    assert.equal(body.zone, 'cdn.example.net');
    assert.equal(body.keys.length, 1);
    const k = body.keys[0];
    assert.equal(k.state, 'active');
    assert.equal(k.parentDs, true);
    assert.match(k.dnskey, /^cdn\.example\.net\.\t300\tIN\tDNSKEY\t257 3 13 [A-Za-z0-9+/]{86}==$/);
    assert.match(
      k.ds,
      new RegExp(`^cdn\\.example\\.net\\.\\tIN\\tDS\\t${k.tag} 13 2 [0-9A-F]{64}$`),
    );
    assert.equal(body.rollover.phase, 'idle');
    // Parameters from the zone: SOA refresh 3600, longest TTL 3600 (the apex), DNSKEY 300.
    assert.deepEqual(body.rollover.timings, {
      publishToActivateSeconds: 3900,
      confirmToRetireSeconds: 90000,
      retireToRemoveSeconds: 7200,
    });
    assert.equal(body.parameters.maxZoneTtl, 3600);
  });

  it('GET /ds gives the DS of the key the CDS names, as JSON and zone text', async () => {
    const keys = await api.cirrus.repos.dnssec.list('cdn.example.net');
    const res = await api.call('GET', '/api/v1/dnssec/ds');
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    const set = keySetAt(keys, Date.now());
    const expected = dsText(dsRdata('cdn.example.net', set.signing[0]?.dnskey as Buffer));
    assert.equal(body.ds.length, 1);
    assert.equal(body.ds[0].digestType, 2);
    assert.equal(body.text, `cdn.example.net.\tIN\tDS\t${expected}\n`);
  });

  it('POST /rollover refuses an algorithm rollover naming the field, and a bad body', async () => {
    let res = await api.call('POST', '/api/v1/dnssec/rollover', { algorithm: 'ed25519' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(json(res).field, 'body.algorithm');
    assert.match(json(res).message, /algorithm rollover .* not supported/);
    res = await api.call('POST', '/api/v1/dnssec/rollover', { algorithm: 'rsasha1' });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(json(res).field, /^body\.algorithm/);
    res = await api.call('POST', '/api/v1/dnssec/rollover', { timescale: 0 });
    assert.equal(res.statusCode, 400, res.body);
  });

  it('POST /rollover/complete before a rollover is 409', async () => {
    const res = await api.call('POST', '/api/v1/dnssec/rollover/complete', {});
    assert.equal(res.statusCode, 409, res.body);
    assert.match(json(res).message, /no key rollover is in progress/);
  });

  it('POST /rollover begins one (new DNSKEY served at once), a second is 409', async () => {
    let res = await api.call('POST', '/api/v1/dnssec/rollover', { algorithm: 'ecdsap256sha256' });
    assert.equal(res.statusCode, 200, res.body);
    const body = json(res);
    assert.equal(body.rollover.phase, 'pre-publication');
    assert.equal(body.keys.length, 2);
    assert.deepEqual(
      body.keys.map((k: { state: string }) => k.state),
      ['active', 'published'],
    );
    assert.equal(Date.parse(body.keys[1].activate) - Date.parse(body.keys[1].publish), 3900_000);
    const dnskeys = [...api.cirrus.snapshots.current.zone.records()].filter(
      (r) => r.type === RRType.DNSKEY,
    );
    assert.equal(dnskeys.length, 2, 'the live snapshot serves the new DNSKEY');
    res = await api.call('POST', '/api/v1/dnssec/rollover', {});
    assert.equal(res.statusCode, 409, res.body);
    assert.match(json(res).message, /in progress \(pre-publication/);
    res = await api.call('POST', '/api/v1/dnssec/rollover/complete', {});
    assert.equal(res.statusCode, 409, res.body);
    assert.match(json(res).message, /only from then/);
  });

  it('a store outage is 503 STORE_UNAVAILABLE', async () => {
    const repo = api.cirrus.repos.dnssec;
    const list = repo.list.bind(repo);
    const edit = repo.edit.bind(repo);
    const down = () => Promise.reject(new StoreUnavailableError('redis 127.0.0.1:1: down', 2));
    repo.list = down;
    repo.edit = down;
    try {
      for (const [method, url] of [
        ['GET', '/api/v1/dnssec'],
        ['GET', '/api/v1/dnssec/ds'],
        ['POST', '/api/v1/dnssec/rollover'],
        ['POST', '/api/v1/dnssec/rollover/complete'],
      ] as const) {
        const res = await api.call(method, url, method === 'POST' ? {} : undefined);
        assert.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`);
        assert.equal(json(res).error, 'STORE_UNAVAILABLE');
        assert.equal(res.headers['retry-after'], '2');
      }
    } finally {
      repo.list = list;
      repo.edit = edit;
    }
  });

  it('with DNSSEC off, the rollover is refused', async () => {
    const off = await buildApiApp({});
    try {
      const res = await off.call('POST', '/api/v1/dnssec/rollover', {});
      assert.equal(res.statusCode, 409, res.body);
      assert.match(json(res).message, /DNSSEC is off/);
      const got = json(await off.call('GET', '/api/v1/dnssec'));
      assert.equal(got.enabled, false);
      assert.deepEqual(got.keys, []);
    } finally {
      await off.close();
    }
  });
});
