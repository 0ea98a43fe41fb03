// The features' repositories over each store engine: what the API, the snapshot compiler
// and the SOA serial rely on. Engine-specific behaviour is tested beside each runner.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, StoreChange } from '../src/store/store.js';
import { repositories, snapshotSource, type Repositories } from '../src/repositories.js';
import { isEmpty, SEEDED_KEY } from '../src/domains/seed.js';
import type { Domain, EdgeNode, HealthView, NodeHealth, TokenRecord } from '../src/model/domain.js';
import { GslbPolicy } from '../src/gslb/policy-model.js';
import { validate } from '../src/config/validate.js';
import { nextSerial } from '../src/snapshot/serial.js';

export interface StoreFixture {
  /** A started store on a fresh, empty backing. */
  store: Store;
  /** Stops the store and releases the backing. */
  cleanup: () => Promise<void>;
  /**
   * A new, not yet started store on the same backing (same file, same Redis db), opened
   * once the first store's writes have reached the backing.
   */
  reopen: () => Store | Promise<Store>;
}

const ZONE = 'cdn.example.net.';

export function domain(name: string, extra: Partial<Domain> = {}): Domain {
  return {
    domain: name,
    label: name.replace(/\W/g, '-'),
    origins: [{ address: '198.51.100.10', protocol: 'http', weight: 1, backup: false }],
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...extra,
  };
}

export function node(id: string, extra: Partial<EdgeNode> = {}): EdgeNode {
  return { id, pool: 'default', weight: 100, active: true, ...extra };
}

/** A policy as the API would store it: validated, defaults filled. */
export function policy(extra: Partial<GslbPolicy> = {}): GslbPolicy {
  return validate(
    GslbPolicy,
    {
      pools: { hk: { lat: 22.3, lon: 114.2, countries: ['HK'] }, fra: { continents: ['EU'] } },
      defaultPool: 'fra',
      ...extra,
    },
    'policy',
  );
}

export function health(extra: Partial<NodeHealth> = {}): NodeHealth {
  return {
    state: 'up',
    okStreak: 2,
    failStreak: 0,
    checks: 10,
    failures: 1,
    lastError: null,
    lastChange: '2024-03-01T00:00:00.000Z',
    lastCheck: '2024-03-01T00:00:05.000Z',
    ...extra,
  };
}

const view = (instance: string, extra: Partial<HealthView> = {}): HealthView => ({
  instance,
  state: 'up',
  okStreak: 3,
  failStreak: 0,
  lastError: null,
  lastCheck: '2024-03-01T00:00:05.000Z',
  latencyMs: 1.5,
  ...extra,
});

const token = (id: string, name = `token ${id}`): TokenRecord => ({
  id,
  name,
  createdAt: '2024-02-03T04:05:06.000Z',
});

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T): number =>
    key(a).localeCompare(key(b));
const sortDomains = (ds: Domain[]) => [...ds].sort(byKey((d) => d.domain));
const sortNodes = (ns: EdgeNode[]) => [...ns].sort(byKey((n) => n.id));
const sortTokens = (ts: TokenRecord[]) => [...ts].sort(byKey((t) => t.id));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function repositoriesContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Repositories over the ${name} store`, () => {
    let fx: StoreFixture;
    let repos: Repositories;
    /** Stores opened by a test on the same backing; stopped even when the test fails. */
    let extra: Repositories[];

    beforeEach(async () => {
      fx = await make();
      repos = repositories(fx.store);
      extra = [];
    });
    afterEach(async () => {
      await Promise.all(extra.map((s) => s.store.stop()));
      await fx.cleanup();
    });

    async function reopen(): Promise<Repositories> {
      const s = repositories(await fx.reopen());
      extra.push(s);
      await s.store.start();
      return s;
    }

    describe('domains', () => {
      it('puts, gets, lists and overwrites', async () => {
        const a = domain('a.example.com');
        const b = domain('b.example.com', { ttl: 30, answers: 2 });
        await repos.domains.put(a);
        await repos.domains.put(b);
        assert.deepEqual(await repos.domains.get('a.example.com'), a);
        assert.deepEqual(await repos.domains.get('b.example.com'), b);
        assert.deepEqual(sortDomains(await repos.domains.list()), [a, b]);

        const a2 = { ...a, ttl: 60, updatedAt: '2024-01-02T00:00:00.000Z' };
        await repos.domains.put(a2);
        assert.deepEqual(await repos.domains.get('a.example.com'), a2);
        assert.equal((await repos.domains.list()).length, 2);
      });

      it('returns undefined for a missing domain', async () => {
        assert.equal(await repos.domains.get('nope.example.com'), undefined);
      });

      it('hands out copies, not its own records', async () => {
        const a = domain('a.example.com');
        await repos.domains.put(a);
        a.origins[0]!.address = '192.0.2.99';
        const got = await repos.domains.get('a.example.com');
        assert.equal(got?.origins[0]?.address, '198.51.100.10');
        got!.origins[0]!.address = '192.0.2.98';
        assert.equal(
          (await repos.domains.get('a.example.com'))?.origins[0]?.address,
          '198.51.100.10',
        );
      });

      it('deletes, and reports whether there was something to delete', async () => {
        await repos.domains.put(domain('a.example.com'));
        assert.equal(await repos.domains.delete('a.example.com'), true);
        assert.equal(await repos.domains.get('a.example.com'), undefined);
        assert.deepEqual(await repos.domains.list(), []);
        assert.equal(await repos.domains.delete('a.example.com'), false);
        assert.equal(await repos.domains.delete('never.example.com'), false);
      });
    });

    describe('nodes', () => {
      it('puts, gets and lists with optional fields kept absent', async () => {
        const full = node('edge-1', {
          ipv4: '203.0.113.1',
          ipv6: '2001:db8::1',
          pool: 'eu',
          region: 'eu-west',
          weight: 250,
          active: false,
        });
        const bare = node('edge-2', { ipv4: '203.0.113.2' });
        await repos.nodes.put(full);
        await repos.nodes.put(bare);
        assert.deepEqual(await repos.nodes.get('edge-1'), full);
        assert.deepEqual(await repos.nodes.get('edge-2'), bare);
        assert.deepEqual(sortNodes(await repos.nodes.list()), [full, bare]);
        assert.equal(await repos.nodes.get('edge-3'), undefined);
      });

      it('drops optional fields an update leaves out', async () => {
        await repos.nodes.put(
          node('edge-1', { ipv4: '203.0.113.1', ipv6: '2001:db8::1', region: 'r' }),
        );
        const updated = node('edge-1', { ipv6: '2001:db8::2', weight: 0 });
        await repos.nodes.put(updated);
        assert.deepEqual(await repos.nodes.get('edge-1'), updated);
      });

      it('deletes, and reports whether there was something to delete', async () => {
        await repos.nodes.put(node('edge-1'));
        assert.equal(await repos.nodes.delete('edge-1'), true);
        assert.equal(await repos.nodes.get('edge-1'), undefined);
        assert.deepEqual(await repos.nodes.list(), []);
        assert.equal(await repos.nodes.delete('edge-1'), false);
      });

      it('replaceNodes removes the nodes not in the new list', async () => {
        await repos.nodes.put(node('old-1', { ipv4: '203.0.113.1' }));
        await repos.nodes.put(node('keep', { ipv4: '203.0.113.2', region: 'x' }));
        const next = [node('keep', { ipv4: '203.0.113.3' }), node('new-1', { pool: 'us' })];
        await repos.nodes.replace(next);
        assert.deepEqual(sortNodes(await repos.nodes.list()), sortNodes(next));
        assert.equal(await repos.nodes.get('old-1'), undefined);
        assert.deepEqual(await repos.nodes.get('keep'), next[0]);

        await repos.nodes.replace([]);
        assert.deepEqual(await repos.nodes.list(), []);
      });

      it('round-trips mode and probe overrides, and drops them when left out', async () => {
        const n = node('edge-1', {
          ipv4: '203.0.113.1',
          mode: 'drain',
          probe: { type: 'https', path: '/up', expect: [200, 204], host: 'edge.example.net' },
        });
        await repos.nodes.put(n);
        assert.deepEqual(await repos.nodes.get('edge-1'), n);
        const paused = node('edge-1', { ipv4: '203.0.113.1', mode: 'paused' });
        await repos.nodes.put(paused);
        assert.deepEqual(await repos.nodes.get('edge-1'), paused);
        await repos.nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
        assert.deepEqual(await repos.nodes.get('edge-1'), node('edge-1', { ipv4: '203.0.113.1' }));
      });
    });

    describe('node health', () => {
      it('setNodeHealth records the checker fields beside the config', async () => {
        await repos.nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
        const h = health({ state: 'down', lastError: 'connect ECONNREFUSED', okStreak: 0 });
        assert.equal(await repos.nodes.setHealth('edge-1', false, h), true);
        const expected = node('edge-1', { ipv4: '203.0.113.1', active: false, health: h });
        assert.deepEqual(await repos.nodes.get('edge-1'), expected);
        assert.deepEqual(await repos.nodes.list(), [expected]);
        assert.deepEqual((await snapshotSource(repos).loadState(ZONE)).nodes, [expected]);
        const cleared = health({ lastError: null, lastChange: null, lastCheck: null });
        await repos.nodes.setHealth('edge-1', false, cleared);
        assert.deepEqual((await repos.nodes.get('edge-1'))?.health, cleared);
      });

      it('setNodeHealth does nothing for a node that does not exist', async () => {
        assert.equal(await repos.nodes.setHealth('ghost', true, health()), false);
        assert.equal(await repos.nodes.get('ghost'), undefined);
        assert.deepEqual(await repos.nodes.list(), []);
      });

      it('putNode and replaceNodes keep the checker fields', async () => {
        await repos.nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
        await repos.nodes.put(node('edge-2', { ipv4: '203.0.113.2' }));
        const h = health();
        await repos.nodes.setHealth('edge-1', true, h);
        await repos.nodes.setHealth('edge-2', true, h);
        await repos.nodes.put(node('edge-1', { ipv4: '203.0.113.9', weight: 5 }));
        assert.deepEqual(
          await repos.nodes.get('edge-1'),
          node('edge-1', { ipv4: '203.0.113.9', weight: 5, health: h }),
        );
        // A body carrying health does not overwrite the checker's record.
        await repos.nodes.put(
          node('edge-1', { ipv4: '203.0.113.9', health: health({ checks: 99 }) }),
        );
        assert.equal((await repos.nodes.get('edge-1'))?.health?.checks, 10);

        await repos.nodes.replace([node('edge-2', { ipv4: '203.0.113.3', pool: 'eu' })]);
        assert.deepEqual(await repos.nodes.list(), [
          node('edge-2', { ipv4: '203.0.113.3', pool: 'eu', health: h }),
        ]);
        await repos.nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
        assert.equal(
          (await repos.nodes.get('edge-1'))?.health,
          undefined,
          'a deleted node starts over',
        );
      });

      it('announces a change only when active flips', async () => {
        await repos.nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
        const seen: StoreChange[] = [];
        repos.store.onChange((c) => seen.push(c));
        await repos.nodes.setHealth('edge-1', true, health({ checks: 1 }));
        await repos.nodes.setHealth('edge-1', true, health({ checks: 2, state: 'unknown' }));
        assert.deepEqual(seen, [], 'counters and state alone are not content');
        await repos.nodes.setHealth('edge-1', false, health({ checks: 3, state: 'down' }));
        assert.deepEqual(seen, [{ kind: 'health', origin: 'local' }]);
        await repos.nodes.setHealth('edge-1', false, health({ checks: 4, state: 'down' }));
        await repos.nodes.setHealth('edge-1', true, health({ checks: 5 }));
        assert.deepEqual(seen, [
          { kind: 'health', origin: 'local' },
          { kind: 'health', origin: 'local' },
        ]);
        assert.equal((await repos.nodes.get('edge-1'))?.health?.checks, 5);
      });

      it('keeps each instance’s view per node until it expires', async () => {
        await repos.health.putViews(
          new Map([
            ['edge-1', view('i1')],
            ['edge-2', view('i1', { state: 'down', failStreak: 3, lastError: 'timeout' })],
          ]),
          60,
        );
        await repos.health.putViews(new Map([['edge-1', view('i2', { latencyMs: null })]]), 1);
        const byInstance = (vs: HealthView[] | undefined) =>
          [...(vs ?? [])].sort(byKey((v) => v.instance));
        const all = await repos.health.loadViews(['edge-1', 'edge-2', 'edge-3']);
        assert.deepEqual(byInstance(all.get('edge-1')), [
          view('i1'),
          view('i2', { latencyMs: null }),
        ]);
        assert.deepEqual(all.get('edge-2'), [
          view('i1', { state: 'down', failStreak: 3, lastError: 'timeout' }),
        ]);
        assert.equal(all.get('edge-3'), undefined);
        assert.deepEqual([...(await repos.health.loadViews(['edge-2'])).keys()], ['edge-2']);

        // A newer view of the same instance replaces the older one.
        await repos.health.putViews(new Map([['edge-2', view('i1')]]), 60);
        assert.deepEqual((await repos.health.loadViews(['edge-2'])).get('edge-2'), [view('i1')]);

        await sleep(1300);
        const later = await repos.health.loadViews(['edge-1']);
        assert.deepEqual(later.get('edge-1'), [view('i1')], 'the 1 s view of i2 expired');
        assert.deepEqual(await repos.health.loadViews([]), new Map());
      });
    });

    describe('instance reports', () => {
      it('keeps each instance’s report until it expires; a newer one replaces it', async () => {
        await repos.instances.put('a', '{"serial":1}', 60);
        await repos.instances.put('b', '{"serial":2}', 1);
        assert.deepEqual(
          await repos.instances.list(),
          new Map([
            ['a', '{"serial":1}'],
            ['b', '{"serial":2}'],
          ]),
        );
        await repos.instances.put('a', '{"serial":3}', 60);
        await sleep(1300);
        assert.deepEqual(await repos.instances.list(), new Map([['a', '{"serial":3}']]));
      });

      it('are not content: nothing is announced', async () => {
        const seen: StoreChange[] = [];
        const off = repos.store.onChange((c) => seen.push(c));
        await repos.instances.put('a', '{"serial":1}', 60);
        off();
        assert.deepEqual(seen, []);
      });
    });

    describe('publish gate release marker', () => {
      it('is undefined until written, then the last marker; it survives a restart', async () => {
        assert.equal(await repos.releases.get(), undefined);
        await repos.releases.put('1-a');
        await repos.releases.put('2-b');
        assert.equal(await repos.releases.get(), '2-b');
        assert.equal(
          await isEmpty(repos, ZONE),
          true,
          'the marker does not make the store non-empty',
        );
        await repos.store.stop();
        const again = await reopen();
        assert.equal(await again.releases.get(), '2-b');
      });
    });

    describe('locks', () => {
      it('one owner at a time; renewals by the owner; release only by the owner', async () => {
        assert.equal(await repos.health.acquireLock('health', 'a', 5000), true);
        assert.equal(await repos.health.acquireLock('health', 'b', 5000), false);
        assert.equal(await repos.health.acquireLock('health', 'a', 5000), true, 'renewal');
        assert.equal(
          await repos.health.acquireLock('other', 'b', 5000),
          true,
          'locks are per name',
        );
        await repos.health.releaseLock('health', 'b');
        assert.equal(
          await repos.health.acquireLock('health', 'b', 5000),
          false,
          'b could not release',
        );
        await repos.health.releaseLock('health', 'a');
        assert.equal(await repos.health.acquireLock('health', 'b', 5000), true);
        await repos.health.releaseLock('health', 'b');
        await repos.health.releaseLock('other', 'b');
      });

      it('expires when the owner stops renewing, and a renewal extends it', async () => {
        assert.equal(await repos.health.acquireLock('health', 'a', 300), true);
        await sleep(200);
        assert.equal(await repos.health.acquireLock('health', 'a', 300), true);
        await sleep(200);
        assert.equal(
          await repos.health.acquireLock('health', 'b', 300),
          false,
          'renewed at 200 ms',
        );
        await sleep(250);
        assert.equal(await repos.health.acquireLock('health', 'b', 300), true, 'expired');
        await repos.health.releaseLock('health', 'a');
        assert.equal(
          await repos.health.acquireLock('health', 'a', 300),
          false,
          'a late release is a no-op',
        );
      });
    });

    describe('policy', () => {
      it('is null until stored, then round-trips whole', async () => {
        assert.equal(await repos.policy.get(), null);
        const p = policy();
        await repos.policy.put(p);
        assert.deepEqual(await repos.policy.get(), p);
        assert.deepEqual((await snapshotSource(repos).loadState(ZONE)).policy, p);
        const p2 = policy({ chain: ['country', 'default'], lastResort: 'fail-closed' });
        await repos.policy.put(p2);
        assert.deepEqual(await repos.policy.get(), p2);
      });

      it('makes the store non-empty', async () => {
        await repos.policy.put(policy());
        assert.equal(await isEmpty(repos, ZONE), false);
      });
    });

    describe('hidden master: peers, zone versions and the IXFR journal', () => {
      const version = (serial: number, records: string[]) => ({
        serial,
        soa: `${ZONE} 6 1 3600 ${serial.toString(16)}`,
        records,
      });
      const entry = (from: number, to: number) => ({
        from,
        to,
        fromSoa: `soa ${from}`,
        toSoa: `soa ${to}`,
        removed: [`r${from}`],
        added: [`a${to}`],
      });

      it('peers are null until stored, then round-trip whole with an xfr change event', async () => {
        assert.equal(await repos.xfr.getPeers(), null);
        const seen: StoreChange[] = [];
        const off = repos.store.onChange((c) => seen.push(c));
        const doc = {
          keys: [
            { name: 'k1', algorithm: 'hmac-sha256' as const, secret: 'c2VjcmV0c2VjcmV0c2VjcmV0' },
          ],
          secondaries: [{ name: 'ns2', address: '192.0.2.53', port: 53, key: 'k1', notify: true }],
        };
        await repos.xfr.putPeers(doc);
        assert.deepEqual(await repos.xfr.getPeers(), doc);
        assert.deepEqual(seen, [{ kind: 'xfr', origin: 'local' }]);
        off();
      });

      it('commits a zone version only over the expected serial, and trims the journal', async () => {
        assert.equal(await repos.xfr.getZoneVersion(ZONE), null);
        assert.deepEqual(await repos.xfr.loadJournal(ZONE), []);
        assert.equal(await repos.xfr.commitZoneVersion(ZONE, 5, version(1, ['a']), null, 3), false);
        assert.equal(
          await repos.xfr.commitZoneVersion(ZONE, null, version(1, ['a']), null, 3),
          true,
        );
        assert.deepEqual(await repos.xfr.getZoneVersion(ZONE), version(1, ['a']));
        assert.equal(
          await repos.xfr.commitZoneVersion(ZONE, null, version(2, ['b']), entry(1, 2), 3),
          false,
          'a second first version loses',
        );
        for (let s = 2; s <= 5; s++) {
          assert.equal(
            await repos.xfr.commitZoneVersion(
              ZONE,
              s - 1,
              version(s, [`r${s}`]),
              entry(s - 1, s),
              3,
            ),
            true,
          );
        }
        assert.deepEqual(await repos.xfr.getZoneVersion(ZONE), version(5, ['r5']));
        assert.deepEqual(await repos.xfr.loadJournal(ZONE), [
          entry(2, 3),
          entry(3, 4),
          entry(4, 5),
        ]);
        assert.deepEqual(await repos.xfr.loadJournal('other.example'), []);
      });
    });

    describe('zone text', () => {
      it('round-trips per zone and is null when never stored', async () => {
        assert.equal(await repos.zoneText.get(ZONE), null);
        const text = `$ORIGIN ${ZONE}\n@ 300 IN TXT "hello; world"\nwww 30 IN A 198.51.100.1\n`;
        await repos.zoneText.put(ZONE, text);
        assert.equal(await repos.zoneText.get(ZONE), text);
        assert.equal(await repos.zoneText.get('other.example.'), null);
        await repos.zoneText.put(ZONE, '');
        assert.equal(await repos.zoneText.get(ZONE), '');
      });
    });

    describe('tokens', () => {
      it('lists tokens without their hashes and finds them by hash', async () => {
        const t1 = token('t1');
        const t2 = token('t2', 'ci deploy');
        await repos.tokens.put(t1, 'hash-1');
        await repos.tokens.put(t2, 'hash-2');
        const listed = sortTokens(await repos.tokens.list());
        assert.deepEqual(listed, [t1, t2]);
        assert.ok(listed.every((t) => !('hash' in t)));
        assert.equal(await repos.tokens.idByHash('hash-1'), 't1');
        assert.equal(await repos.tokens.idByHash('hash-2'), 't2');
        assert.equal(await repos.tokens.idByHash('hash-3'), undefined);
      });

      it('forgets the hash of a deleted token', async () => {
        await repos.tokens.put(token('t1'), 'hash-1');
        assert.equal(await repos.tokens.delete('t1'), true);
        assert.equal(await repos.tokens.idByHash('hash-1'), undefined);
        assert.deepEqual(await repos.tokens.list(), []);
        assert.equal(await repos.tokens.delete('t1'), false);
      });

      it('a re-issued token no longer answers to its old hash', async () => {
        await repos.tokens.put(token('t1'), 'hash-old');
        await repos.tokens.put(token('t1'), 'hash-new');
        assert.equal(await repos.tokens.idByHash('hash-old'), undefined);
        assert.equal(await repos.tokens.idByHash('hash-new'), 't1');
        assert.equal((await repos.tokens.list()).length, 1);
      });
    });

    describe('isEmpty and loadState', () => {
      it('isEmpty is true until a domain, a node or this zone text exists', async () => {
        assert.equal(await isEmpty(repos, ZONE), true);
        await repos.tokens.put(token('t1'), 'h');
        await repos.zoneText.put('other.example.', 'x');
        assert.equal(await isEmpty(repos, ZONE), true, 'tokens and other zones do not count');

        await repos.zoneText.put(ZONE, 'x');
        assert.equal(await isEmpty(repos, ZONE), false);
      });

      it('isEmpty is false with only a domain, or only a node', async () => {
        await repos.domains.put(domain('a.example.com'));
        assert.equal(await isEmpty(repos, ZONE), false);
        await repos.domains.delete('a.example.com');
        assert.equal(await isEmpty(repos, ZONE), true);
        await repos.nodes.put(node('edge-1'));
        assert.equal(await isEmpty(repos, ZONE), false);
      });

      it('loadState reflects every write', async () => {
        assert.deepEqual(await snapshotSource(repos).loadState(ZONE), {
          domains: [],
          nodes: [],
          zoneText: null,
          policy: null,
        });

        const a = domain('a.example.com');
        const b = domain('b.example.com', { ttl: 20 });
        const n1 = node('edge-1', { ipv4: '203.0.113.1', region: 'eu' });
        const n2 = node('edge-2', { ipv6: '2001:db8::2', active: false });
        await repos.domains.put(a);
        await repos.domains.put(b);
        await repos.nodes.put(n1);
        await repos.nodes.put(n2);
        await repos.zoneText.put(ZONE, 'www 30 IN A 198.51.100.1\n');
        await repos.domains.delete('b.example.com');
        await repos.nodes.delete('edge-2');

        const state = await snapshotSource(repos).loadState(ZONE);
        assert.deepEqual(sortDomains(state.domains), [a]);
        assert.deepEqual(sortNodes(state.nodes), [n1]);
        assert.equal(state.zoneText, 'www 30 IN A 198.51.100.1\n');
        assert.equal((await snapshotSource(repos).loadState('other.example.')).zoneText, null);
      });
    });

    describe('change events', () => {
      it('announces each kind of write locally, once', async () => {
        const seen: StoreChange[] = [];
        repos.store.onChange((c) => seen.push(c));
        const expectLocal = async (kind: StoreChange['kind'], write: () => Promise<unknown>) => {
          seen.length = 0;
          await write();
          assert.deepEqual(seen, [{ kind, origin: 'local' }], `after a ${kind} write`);
        };

        await expectLocal('domains', () => repos.domains.put(domain('a.example.com')));
        await expectLocal('domains', () => repos.domains.delete('a.example.com'));
        await expectLocal('nodes', () => repos.nodes.put(node('edge-1')));
        await expectLocal('nodes', () => repos.nodes.delete('edge-1'));
        await expectLocal('nodes', () => repos.nodes.replace([node('edge-2')]));
        await expectLocal('zone', () => repos.zoneText.put(ZONE, 'x'));
        await expectLocal('tokens', () => repos.tokens.put(token('t1'), 'h1'));
        await expectLocal('tokens', () => repos.tokens.delete('t1'));
        await expectLocal('policy', () => repos.policy.put(policy()));
        await expectLocal('health', () => repos.nodes.setHealth('edge-2', false, health()));
      });

      it('is silent for reads, no-op deletes and serial bookkeeping', async () => {
        const seen: StoreChange[] = [];
        repos.store.onChange((c) => seen.push(c));
        await repos.domains.delete('missing.example.com');
        await repos.nodes.delete('missing');
        await repos.tokens.delete('missing');
        await snapshotSource(repos).loadState(ZONE);
        await repos.serials.advance(ZONE, 'h', 1);
        await repos.nodes.setHealth('missing', false, health());
        await repos.health.putViews(new Map([['missing', view('i1')]]), 60);
        await repos.health.acquireLock('health', 'i1', 1000);
        await repos.health.releaseLock('health', 'i1');
        await repos.xfr.commitZoneVersion(
          ZONE,
          null,
          { serial: 1, soa: 's', records: [] },
          null,
          5,
        );
        assert.deepEqual(seen, []);
      });

      it('does not announce its own writes again as remote changes', async () => {
        const seen: StoreChange[] = [];
        repos.store.onChange((c) => seen.push(c));
        await repos.domains.put(domain('a.example.com'));
        await repos.zoneText.put(ZONE, 'x');
        // Long enough for a pub/sub echo or a file poll to arrive.
        await sleep(400);
        assert.deepEqual(
          seen.filter((c) => c.origin === 'remote'),
          [],
        );
      });

      it('unsubscribes a listener', async () => {
        const seen: StoreChange[] = [];
        const off = repos.store.onChange((c) => seen.push(c));
        off();
        await repos.domains.put(domain('a.example.com'));
        assert.deepEqual(seen, []);
      });
    });

    describe('advanceSerial (RFC 1982, SERIAL_BITS = 32)', () => {
      it('starts at the floor and keeps the serial while the content hash is unchanged', async () => {
        assert.equal(await repos.serials.advance(ZONE, 'h1', 1000), 1000);
        assert.equal(await repos.serials.advance(ZONE, 'h1', 1000), 1000);
        assert.equal(
          await repos.serials.advance(ZONE, 'h1', 5000),
          1000,
          'a later floor alone changes nothing',
        );
        assert.equal(await repos.serials.advance(ZONE, 'h1', 10), 1000);
      });

      it('steps by one when the floor is not ahead, jumps to the floor when it is', async () => {
        await repos.serials.advance(ZONE, 'h1', 1000);
        assert.equal(await repos.serials.advance(ZONE, 'h2', 1000), 1001);
        assert.equal(await repos.serials.advance(ZONE, 'h3', 500), 1002, 'floor behind');
        assert.equal(await repos.serials.advance(ZONE, 'h4', 1003), 1003, 'floor equal to prev+1');
        assert.equal(await repos.serials.advance(ZONE, 'h5', 2000), 2000, 'floor ahead');
        assert.equal(
          await repos.serials.advance(ZONE, 'h1', 2000),
          2001,
          'an old hash is new content',
        );
      });

      it('keeps serials per zone', async () => {
        assert.equal(await repos.serials.advance(ZONE, 'h1', 100), 100);
        assert.equal(await repos.serials.advance('other.example.', 'h1', 7), 7);
        assert.equal(await repos.serials.advance(ZONE, 'h2', 0), 101);
      });

      it('wraps at 2^32 as nextSerial defines', async () => {
        const max = 0xffffffff;
        const cases: Array<[zone: string, floor: number, expected: number]> = [
          // prev+1 wraps to 0; floor 5 is "after" 0 in RFC 1982 §3.2 terms, so it wins.
          ['w1.', 5, 5],
          // Floor 0 equals the wrapped successor.
          ['w2.', 0, 0],
          // Floor 2^32-1 is "before" 0 (distance 2^32-1 > 2^31): the wrapped successor wins.
          ['w3.', max, 0],
          // Exactly 2^31 apart is undefined in RFC 1982; nextSerial treats it as not ahead.
          ['w4.', 0x80000000, 0],
        ];
        for (const [zone, floor, expected] of cases) {
          assert.equal(await repos.serials.advance(zone, 'first', max), max);
          assert.equal(nextSerial(max, floor), expected, `nextSerial(max, ${floor})`);
          assert.equal(
            await repos.serials.advance(zone, 'second', floor),
            expected,
            `${zone} floor ${floor}`,
          );
          assert.equal(await repos.serials.advance(zone, 'third', 0), expected + 1);
        }
      });

      it('ignores a floor more than 2^31 ahead, which RFC 1982 reads as behind', async () => {
        await repos.serials.advance(ZONE, 'h1', 10);
        const farFloor = 10 + 0x80000000 + 5;
        assert.equal(nextSerial(10, farFloor), 11);
        assert.equal(await repos.serials.advance(ZONE, 'h2', farFloor), 11);
      });

      it('never goes backwards across a restart on the same backing', async () => {
        assert.equal(await repos.serials.advance(ZONE, 'h1', 100), 100);
        assert.equal(await repos.serials.advance(ZONE, 'h2', 100), 101);
        await repos.store.stop();

        const again = await reopen();
        assert.equal(await again.serials.advance(ZONE, 'h2', 50), 101, 'same content, same serial');
        assert.equal(await again.serials.advance(ZONE, 'h3', 50), 102, 'new content, next serial');
      });
    });

    describe('acme', () => {
      it('keeps several TXT values per name, each with its expiry; deletes one or all', async () => {
        const now = Date.now();
        await repos.acme.putTxt({ name: 'sub-a', value: 'v1', expiresAt: now + 60_000 });
        await repos.acme.putTxt({ name: 'sub-a', value: 'v2', expiresAt: now + 60_000 });
        await repos.acme.putTxt({ name: 'sub-b', value: 'v1', expiresAt: now + 60_000 });
        await repos.acme.putTxt({ name: 'sub-a', value: 'v1', expiresAt: now + 90_000 });
        assert.deepEqual(await repos.acme.listTxt(now), [
          { name: 'sub-a', value: 'v1', expiresAt: now + 90_000 },
          { name: 'sub-a', value: 'v2', expiresAt: now + 60_000 },
          { name: 'sub-b', value: 'v1', expiresAt: now + 60_000 },
        ]);
        assert.equal(await repos.acme.deleteTxt('sub-a', 'v2'), 1);
        assert.equal(await repos.acme.deleteTxt('sub-a', 'missing'), 0);
        assert.equal(await repos.acme.deleteTxt('sub-b'), 1);
        assert.deepEqual(
          (await repos.acme.listTxt(now)).map((t) => [t.name, t.value]),
          [['sub-a', 'v1']],
        );
        assert.deepEqual(await repos.acme.listTxt(now + 90_000), [], 'expired at its expiry');
      });

      it('announces TXT writes as acme changes, and survives a reopen', async () => {
        const seen: StoreChange[] = [];
        repos.store.onChange((c) => seen.push(c));
        const at = Date.now() + 60_000;
        await repos.acme.putTxt({ name: 'x', value: 'v', expiresAt: at });
        await repos.acme.deleteTxt('x', 'v');
        await repos.acme.deleteTxt('x', 'v');
        assert.deepEqual(seen, [
          { kind: 'acme', origin: 'local' },
          { kind: 'acme', origin: 'local' },
        ]);
        await repos.acme.putTxt({ name: 'y', value: 'w', expiresAt: at });
        const again = await reopen();
        assert.deepEqual(await again.acme.listTxt(Date.now()), [
          { name: 'y', value: 'w', expiresAt: at },
        ]);
      });

      it('round-trips accounts, domain state and certificates', async () => {
        const account = {
          username: '6c4c5b1e-0000-4000-8000-000000000001',
          passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
          subdomain: 'b9c0d3e4-0000-4000-8000-000000000002',
          allowfrom: ['192.0.2.0/24'],
          createdAt: '2024-01-01T00:00:00.000Z',
        };
        assert.equal(await repos.acme.getDnsAccount(account.username), undefined);
        await repos.acme.putDnsAccount(account);
        assert.deepEqual(await repos.acme.getDnsAccount(account.username), account);

        const state = {
          domain: 'shop.example.com',
          subdomain: account.subdomain,
          username: account.username,
          wildcard: true,
          status: 'failed' as const,
          lastError: 'CNAME missing',
          lastAttemptAt: '2024-01-02T00:00:00.000Z',
          orders: 2,
          updatedAt: '2024-01-02T00:00:00.000Z',
        };
        await repos.acme.putState(state);
        assert.deepEqual(await repos.acme.getState('shop.example.com'), state);
        assert.equal(await repos.acme.getState('other.example.com'), undefined);

        const cert = {
          cert: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n',
          key: '-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n',
          issuedAt: '2024-01-02T00:00:00.000Z',
          expiresAt: '2024-04-01T00:00:00.000Z',
        };
        assert.equal(await repos.acme.getCertificate('shop.example.com'), undefined);
        await repos.acme.putCertificate('shop.example.com', cert);
        assert.deepEqual(await (await reopen()).acme.getCertificate('shop.example.com'), cert);
      });

      it('claims keys once: the first stored PEM wins', async () => {
        assert.equal(await repos.acme.claimKey({ account: true }, 'pem-1'), 'pem-1');
        assert.equal(await repos.acme.claimKey({ account: true }, 'pem-2'), 'pem-1');
        assert.equal(await repos.acme.claimKey({ domain: 'a.example.com' }, 'k-a'), 'k-a');
        assert.equal(await repos.acme.claimKey({ domain: 'a.example.com' }, 'k-b'), 'k-a');
        assert.equal(await repos.acme.claimKey({ domain: 'b.example.com' }, 'k-b'), 'k-b');
      });

      it('certificate locks are per domain and apart from the named locks', async () => {
        assert.equal(await repos.acme.acquireCertLock('a.example.com', 'i1', 5000), true);
        assert.equal(await repos.acme.acquireCertLock('a.example.com', 'i2', 5000), false);
        assert.equal(await repos.acme.acquireCertLock('b.example.com', 'i2', 5000), true);
        assert.equal(await repos.health.acquireLock('a.example.com', 'i2', 5000), true);
        await repos.acme.releaseCertLock('a.example.com', 'i2');
        assert.equal(await repos.acme.acquireCertLock('a.example.com', 'i2', 5000), false);
        await repos.acme.releaseCertLock('a.example.com', 'i1');
        assert.equal(await repos.acme.acquireCertLock('a.example.com', 'i2', 5000), true);
      });
    });

    describe('meta', () => {
      it('stores named facts that survive a restart and are not content', async () => {
        assert.equal(await repos.store.get(SEEDED_KEY), undefined);
        await repos.store.write([{ op: 'set', key: SEEDED_KEY, value: 'zones at 2026-01-01' }]);
        assert.equal(await repos.store.get(SEEDED_KEY), 'zones at 2026-01-01');
        assert.equal(await isEmpty(repos, ZONE), true, 'meta does not make the store non-empty');
        await repos.store.stop();
        const again = await reopen();
        assert.equal(await again.store.get(SEEDED_KEY), 'zones at 2026-01-01');
      });
    });

    describe('lifecycle', () => {
      it('keeps the data across stop and a new store on the same backing', async () => {
        const a = domain('a.example.com');
        const n = node('edge-1', { ipv4: '203.0.113.1' });
        await repos.domains.put(a);
        await repos.nodes.put(n);
        await repos.zoneText.put(ZONE, 'x');
        await repos.tokens.put(token('t1'), 'h1');
        await repos.policy.put(policy());
        await repos.store.stop();
        await repos.store.stop();

        const again = await reopen();
        assert.deepEqual(await snapshotSource(again).loadState(ZONE), {
          domains: [a],
          nodes: [n],
          zoneText: 'x',
          policy: policy(),
        });
        assert.equal(await again.tokens.idByHash('h1'), 't1');
      });

      it('a second store on the same backing sees the first one’s writes within a second', async () => {
        const other = await reopen();
        await repos.domains.put(domain('a.example.com'));
        const deadline = Date.now() + 1000;
        while (!(await other.domains.get('a.example.com')) && Date.now() < deadline)
          await sleep(20);
        assert.deepEqual(await other.domains.get('a.example.com'), domain('a.example.com'));
      });
    });
  });
}
