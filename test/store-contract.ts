// The store contract, run against every Store implementation: what the API, the snapshot
// compiler and the SOA serial rely on. Backend-specific behaviour is tested beside each runner.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, StoreChange } from '../src/store/store.js';
import type { Domain, EdgeNode, HealthView, NodeHealth, TokenRecord } from '../src/store/model.js';
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

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    /** Stores opened by a test on the same backing; stopped even when the test fails. */
    let extra: Store[];

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
      extra = [];
    });
    afterEach(async () => {
      await Promise.all(extra.map((s) => s.stop()));
      await fx.cleanup();
    });

    async function reopen(): Promise<Store> {
      const s = await fx.reopen();
      extra.push(s);
      await s.start();
      return s;
    }

    describe('domains', () => {
      it('puts, gets, lists and overwrites', async () => {
        const a = domain('a.example.com');
        const b = domain('b.example.com', { ttl: 30, answers: 2 });
        await store.putDomain(a);
        await store.putDomain(b);
        assert.deepEqual(await store.getDomain('a.example.com'), a);
        assert.deepEqual(await store.getDomain('b.example.com'), b);
        assert.deepEqual(sortDomains(await store.listDomains()), [a, b]);

        const a2 = { ...a, ttl: 60, updatedAt: '2024-01-02T00:00:00.000Z' };
        await store.putDomain(a2);
        assert.deepEqual(await store.getDomain('a.example.com'), a2);
        assert.equal((await store.listDomains()).length, 2);
      });

      it('returns undefined for a missing domain', async () => {
        assert.equal(await store.getDomain('nope.example.com'), undefined);
      });

      it('hands out copies, not its own records', async () => {
        const a = domain('a.example.com');
        await store.putDomain(a);
        a.origins[0]!.address = '192.0.2.99';
        const got = await store.getDomain('a.example.com');
        assert.equal(got?.origins[0]?.address, '198.51.100.10');
        got!.origins[0]!.address = '192.0.2.98';
        assert.equal(
          (await store.getDomain('a.example.com'))?.origins[0]?.address,
          '198.51.100.10',
        );
      });

      it('deletes, and reports whether there was something to delete', async () => {
        await store.putDomain(domain('a.example.com'));
        assert.equal(await store.deleteDomain('a.example.com'), true);
        assert.equal(await store.getDomain('a.example.com'), undefined);
        assert.deepEqual(await store.listDomains(), []);
        assert.equal(await store.deleteDomain('a.example.com'), false);
        assert.equal(await store.deleteDomain('never.example.com'), false);
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
        await store.putNode(full);
        await store.putNode(bare);
        assert.deepEqual(await store.getNode('edge-1'), full);
        assert.deepEqual(await store.getNode('edge-2'), bare);
        assert.deepEqual(sortNodes(await store.listNodes()), [full, bare]);
        assert.equal(await store.getNode('edge-3'), undefined);
      });

      it('drops optional fields an update leaves out', async () => {
        await store.putNode(
          node('edge-1', { ipv4: '203.0.113.1', ipv6: '2001:db8::1', region: 'r' }),
        );
        const updated = node('edge-1', { ipv6: '2001:db8::2', weight: 0 });
        await store.putNode(updated);
        assert.deepEqual(await store.getNode('edge-1'), updated);
      });

      it('deletes, and reports whether there was something to delete', async () => {
        await store.putNode(node('edge-1'));
        assert.equal(await store.deleteNode('edge-1'), true);
        assert.equal(await store.getNode('edge-1'), undefined);
        assert.deepEqual(await store.listNodes(), []);
        assert.equal(await store.deleteNode('edge-1'), false);
      });

      it('replaceNodes removes the nodes not in the new list', async () => {
        await store.putNode(node('old-1', { ipv4: '203.0.113.1' }));
        await store.putNode(node('keep', { ipv4: '203.0.113.2', region: 'x' }));
        const next = [node('keep', { ipv4: '203.0.113.3' }), node('new-1', { pool: 'us' })];
        await store.replaceNodes(next);
        assert.deepEqual(sortNodes(await store.listNodes()), sortNodes(next));
        assert.equal(await store.getNode('old-1'), undefined);
        assert.deepEqual(await store.getNode('keep'), next[0]);

        await store.replaceNodes([]);
        assert.deepEqual(await store.listNodes(), []);
      });

      it('round-trips mode and probe overrides, and drops them when left out', async () => {
        const n = node('edge-1', {
          ipv4: '203.0.113.1',
          mode: 'drain',
          probe: { type: 'https', path: '/up', expect: [200, 204], host: 'edge.example.net' },
        });
        await store.putNode(n);
        assert.deepEqual(await store.getNode('edge-1'), n);
        const paused = node('edge-1', { ipv4: '203.0.113.1', mode: 'paused' });
        await store.putNode(paused);
        assert.deepEqual(await store.getNode('edge-1'), paused);
        await store.putNode(node('edge-1', { ipv4: '203.0.113.1' }));
        assert.deepEqual(await store.getNode('edge-1'), node('edge-1', { ipv4: '203.0.113.1' }));
      });
    });

    describe('node health', () => {
      it('setNodeHealth records the checker fields beside the config', async () => {
        await store.putNode(node('edge-1', { ipv4: '203.0.113.1' }));
        const h = health({ state: 'down', lastError: 'connect ECONNREFUSED', okStreak: 0 });
        assert.equal(await store.setNodeHealth('edge-1', false, h), true);
        const expected = node('edge-1', { ipv4: '203.0.113.1', active: false, health: h });
        assert.deepEqual(await store.getNode('edge-1'), expected);
        assert.deepEqual(await store.listNodes(), [expected]);
        assert.deepEqual((await store.loadState(ZONE)).nodes, [expected]);
        const cleared = health({ lastError: null, lastChange: null, lastCheck: null });
        await store.setNodeHealth('edge-1', false, cleared);
        assert.deepEqual((await store.getNode('edge-1'))?.health, cleared);
      });

      it('setNodeHealth does nothing for a node that does not exist', async () => {
        assert.equal(await store.setNodeHealth('ghost', true, health()), false);
        assert.equal(await store.getNode('ghost'), undefined);
        assert.deepEqual(await store.listNodes(), []);
      });

      it('putNode and replaceNodes keep the checker fields', async () => {
        await store.putNode(node('edge-1', { ipv4: '203.0.113.1' }));
        await store.putNode(node('edge-2', { ipv4: '203.0.113.2' }));
        const h = health();
        await store.setNodeHealth('edge-1', true, h);
        await store.setNodeHealth('edge-2', true, h);
        await store.putNode(node('edge-1', { ipv4: '203.0.113.9', weight: 5 }));
        assert.deepEqual(
          await store.getNode('edge-1'),
          node('edge-1', { ipv4: '203.0.113.9', weight: 5, health: h }),
        );
        // A body carrying health does not overwrite the checker's record.
        await store.putNode(
          node('edge-1', { ipv4: '203.0.113.9', health: health({ checks: 99 }) }),
        );
        assert.equal((await store.getNode('edge-1'))?.health?.checks, 10);

        await store.replaceNodes([node('edge-2', { ipv4: '203.0.113.3', pool: 'eu' })]);
        assert.deepEqual(await store.listNodes(), [
          node('edge-2', { ipv4: '203.0.113.3', pool: 'eu', health: h }),
        ]);
        await store.putNode(node('edge-1', { ipv4: '203.0.113.1' }));
        assert.equal(
          (await store.getNode('edge-1'))?.health,
          undefined,
          'a deleted node starts over',
        );
      });

      it('announces a change only when active flips', async () => {
        await store.putNode(node('edge-1', { ipv4: '203.0.113.1' }));
        const seen: StoreChange[] = [];
        store.onChange((c) => seen.push(c));
        await store.setNodeHealth('edge-1', true, health({ checks: 1 }));
        await store.setNodeHealth('edge-1', true, health({ checks: 2, state: 'unknown' }));
        assert.deepEqual(seen, [], 'counters and state alone are not content');
        await store.setNodeHealth('edge-1', false, health({ checks: 3, state: 'down' }));
        assert.deepEqual(seen, [{ kind: 'health', origin: 'local' }]);
        await store.setNodeHealth('edge-1', false, health({ checks: 4, state: 'down' }));
        await store.setNodeHealth('edge-1', true, health({ checks: 5 }));
        assert.deepEqual(seen, [
          { kind: 'health', origin: 'local' },
          { kind: 'health', origin: 'local' },
        ]);
        assert.equal((await store.getNode('edge-1'))?.health?.checks, 5);
      });

      it('keeps each instance’s view per node until it expires', async () => {
        await store.putHealthViews(
          new Map([
            ['edge-1', view('i1')],
            ['edge-2', view('i1', { state: 'down', failStreak: 3, lastError: 'timeout' })],
          ]),
          60,
        );
        await store.putHealthViews(new Map([['edge-1', view('i2', { latencyMs: null })]]), 1);
        const byInstance = (vs: HealthView[] | undefined) =>
          [...(vs ?? [])].sort(byKey((v) => v.instance));
        const all = await store.loadHealthViews(['edge-1', 'edge-2', 'edge-3']);
        assert.deepEqual(byInstance(all.get('edge-1')), [
          view('i1'),
          view('i2', { latencyMs: null }),
        ]);
        assert.deepEqual(all.get('edge-2'), [
          view('i1', { state: 'down', failStreak: 3, lastError: 'timeout' }),
        ]);
        assert.equal(all.get('edge-3'), undefined);
        assert.deepEqual([...(await store.loadHealthViews(['edge-2'])).keys()], ['edge-2']);

        // A newer view of the same instance replaces the older one.
        await store.putHealthViews(new Map([['edge-2', view('i1')]]), 60);
        assert.deepEqual((await store.loadHealthViews(['edge-2'])).get('edge-2'), [view('i1')]);

        await sleep(1300);
        const later = await store.loadHealthViews(['edge-1']);
        assert.deepEqual(later.get('edge-1'), [view('i1')], 'the 1 s view of i2 expired');
        assert.deepEqual(await store.loadHealthViews([]), new Map());
      });
    });

    describe('instance reports', () => {
      it('keeps each instance’s report until it expires; a newer one replaces it', async () => {
        await store.putInstance('a', '{"serial":1}', 60);
        await store.putInstance('b', '{"serial":2}', 1);
        assert.deepEqual(
          await store.listInstances(),
          new Map([
            ['a', '{"serial":1}'],
            ['b', '{"serial":2}'],
          ]),
        );
        await store.putInstance('a', '{"serial":3}', 60);
        await sleep(1300);
        assert.deepEqual(await store.listInstances(), new Map([['a', '{"serial":3}']]));
      });
    });

    describe('locks', () => {
      it('one owner at a time; renewals by the owner; release only by the owner', async () => {
        assert.equal(await store.acquireLock('health', 'a', 5000), true);
        assert.equal(await store.acquireLock('health', 'b', 5000), false);
        assert.equal(await store.acquireLock('health', 'a', 5000), true, 'renewal');
        assert.equal(await store.acquireLock('other', 'b', 5000), true, 'locks are per name');
        await store.releaseLock('health', 'b');
        assert.equal(await store.acquireLock('health', 'b', 5000), false, 'b could not release');
        await store.releaseLock('health', 'a');
        assert.equal(await store.acquireLock('health', 'b', 5000), true);
        await store.releaseLock('health', 'b');
        await store.releaseLock('other', 'b');
      });

      it('expires when the owner stops renewing, and a renewal extends it', async () => {
        assert.equal(await store.acquireLock('health', 'a', 300), true);
        await sleep(200);
        assert.equal(await store.acquireLock('health', 'a', 300), true);
        await sleep(200);
        assert.equal(await store.acquireLock('health', 'b', 300), false, 'renewed at 200 ms');
        await sleep(250);
        assert.equal(await store.acquireLock('health', 'b', 300), true, 'expired');
        await store.releaseLock('health', 'a');
        assert.equal(
          await store.acquireLock('health', 'a', 300),
          false,
          'a late release is a no-op',
        );
      });
    });

    describe('policy', () => {
      it('is null until stored, then round-trips whole', async () => {
        assert.equal(await store.getPolicy(), null);
        const p = policy();
        await store.putPolicy(p);
        assert.deepEqual(await store.getPolicy(), p);
        assert.deepEqual((await store.loadState(ZONE)).policy, p);
        const p2 = policy({ chain: ['country', 'default'], lastResort: 'fail-closed' });
        await store.putPolicy(p2);
        assert.deepEqual(await store.getPolicy(), p2);
      });

      it('makes the store non-empty', async () => {
        await store.putPolicy(policy());
        assert.equal(await store.isEmpty(ZONE), false);
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
        assert.equal(await store.getPeers(), null);
        const seen: StoreChange[] = [];
        const off = store.onChange((c) => seen.push(c));
        const doc = {
          keys: [
            { name: 'k1', algorithm: 'hmac-sha256' as const, secret: 'c2VjcmV0c2VjcmV0c2VjcmV0' },
          ],
          secondaries: [{ name: 'ns2', address: '192.0.2.53', port: 53, key: 'k1', notify: true }],
        };
        await store.putPeers(doc);
        assert.deepEqual(await store.getPeers(), doc);
        assert.deepEqual(seen, [{ kind: 'xfr', origin: 'local' }]);
        off();
      });

      it('commits a zone version only over the expected serial, and trims the journal', async () => {
        assert.equal(await store.getZoneVersion(ZONE), null);
        assert.deepEqual(await store.loadJournal(ZONE), []);
        assert.equal(await store.commitZoneVersion(ZONE, 5, version(1, ['a']), null, 3), false);
        assert.equal(await store.commitZoneVersion(ZONE, null, version(1, ['a']), null, 3), true);
        assert.deepEqual(await store.getZoneVersion(ZONE), version(1, ['a']));
        assert.equal(
          await store.commitZoneVersion(ZONE, null, version(2, ['b']), entry(1, 2), 3),
          false,
          'a second first version loses',
        );
        for (let s = 2; s <= 5; s++) {
          assert.equal(
            await store.commitZoneVersion(ZONE, s - 1, version(s, [`r${s}`]), entry(s - 1, s), 3),
            true,
          );
        }
        assert.deepEqual(await store.getZoneVersion(ZONE), version(5, ['r5']));
        assert.deepEqual(await store.loadJournal(ZONE), [entry(2, 3), entry(3, 4), entry(4, 5)]);
        assert.deepEqual(await store.loadJournal('other.example'), []);
      });
    });

    describe('zone text', () => {
      it('round-trips per zone and is null when never stored', async () => {
        assert.equal(await store.getZoneText(ZONE), null);
        const text = `$ORIGIN ${ZONE}\n@ 300 IN TXT "hello; world"\nwww 30 IN A 198.51.100.1\n`;
        await store.putZoneText(ZONE, text);
        assert.equal(await store.getZoneText(ZONE), text);
        assert.equal(await store.getZoneText('other.example.'), null);
        await store.putZoneText(ZONE, '');
        assert.equal(await store.getZoneText(ZONE), '');
      });
    });

    describe('tokens', () => {
      it('lists tokens without their hashes and finds them by hash', async () => {
        const t1 = token('t1');
        const t2 = token('t2', 'ci deploy');
        await store.putToken(t1, 'hash-1');
        await store.putToken(t2, 'hash-2');
        const listed = sortTokens(await store.listTokens());
        assert.deepEqual(listed, [t1, t2]);
        assert.ok(listed.every((t) => !('hash' in t)));
        assert.equal(await store.tokenIdByHash('hash-1'), 't1');
        assert.equal(await store.tokenIdByHash('hash-2'), 't2');
        assert.equal(await store.tokenIdByHash('hash-3'), undefined);
      });

      it('forgets the hash of a deleted token', async () => {
        await store.putToken(token('t1'), 'hash-1');
        assert.equal(await store.deleteToken('t1'), true);
        assert.equal(await store.tokenIdByHash('hash-1'), undefined);
        assert.deepEqual(await store.listTokens(), []);
        assert.equal(await store.deleteToken('t1'), false);
      });

      it('a re-issued token no longer answers to its old hash', async () => {
        await store.putToken(token('t1'), 'hash-old');
        await store.putToken(token('t1'), 'hash-new');
        assert.equal(await store.tokenIdByHash('hash-old'), undefined);
        assert.equal(await store.tokenIdByHash('hash-new'), 't1');
        assert.equal((await store.listTokens()).length, 1);
      });
    });

    describe('isEmpty and loadState', () => {
      it('isEmpty is true until a domain, a node or this zone text exists', async () => {
        assert.equal(await store.isEmpty(ZONE), true);
        await store.putToken(token('t1'), 'h');
        await store.putZoneText('other.example.', 'x');
        assert.equal(await store.isEmpty(ZONE), true, 'tokens and other zones do not count');

        await store.putZoneText(ZONE, 'x');
        assert.equal(await store.isEmpty(ZONE), false);
      });

      it('isEmpty is false with only a domain, or only a node', async () => {
        await store.putDomain(domain('a.example.com'));
        assert.equal(await store.isEmpty(ZONE), false);
        await store.deleteDomain('a.example.com');
        assert.equal(await store.isEmpty(ZONE), true);
        await store.putNode(node('edge-1'));
        assert.equal(await store.isEmpty(ZONE), false);
      });

      it('loadState reflects every write', async () => {
        assert.deepEqual(await store.loadState(ZONE), {
          domains: [],
          nodes: [],
          zoneText: null,
          policy: null,
        });

        const a = domain('a.example.com');
        const b = domain('b.example.com', { ttl: 20 });
        const n1 = node('edge-1', { ipv4: '203.0.113.1', region: 'eu' });
        const n2 = node('edge-2', { ipv6: '2001:db8::2', active: false });
        await store.putDomain(a);
        await store.putDomain(b);
        await store.putNode(n1);
        await store.putNode(n2);
        await store.putZoneText(ZONE, 'www 30 IN A 198.51.100.1\n');
        await store.deleteDomain('b.example.com');
        await store.deleteNode('edge-2');

        const state = await store.loadState(ZONE);
        assert.deepEqual(sortDomains(state.domains), [a]);
        assert.deepEqual(sortNodes(state.nodes), [n1]);
        assert.equal(state.zoneText, 'www 30 IN A 198.51.100.1\n');
        assert.equal((await store.loadState('other.example.')).zoneText, null);
      });
    });

    describe('change events', () => {
      it('announces each kind of write locally, once', async () => {
        const seen: StoreChange[] = [];
        store.onChange((c) => seen.push(c));
        const expectLocal = async (kind: StoreChange['kind'], write: () => Promise<unknown>) => {
          seen.length = 0;
          await write();
          assert.deepEqual(seen, [{ kind, origin: 'local' }], `after a ${kind} write`);
        };

        await expectLocal('domains', () => store.putDomain(domain('a.example.com')));
        await expectLocal('domains', () => store.deleteDomain('a.example.com'));
        await expectLocal('nodes', () => store.putNode(node('edge-1')));
        await expectLocal('nodes', () => store.deleteNode('edge-1'));
        await expectLocal('nodes', () => store.replaceNodes([node('edge-2')]));
        await expectLocal('zone', () => store.putZoneText(ZONE, 'x'));
        await expectLocal('tokens', () => store.putToken(token('t1'), 'h1'));
        await expectLocal('tokens', () => store.deleteToken('t1'));
        await expectLocal('policy', () => store.putPolicy(policy()));
        await expectLocal('health', () => store.setNodeHealth('edge-2', false, health()));
      });

      it('is silent for reads, no-op deletes and serial bookkeeping', async () => {
        const seen: StoreChange[] = [];
        store.onChange((c) => seen.push(c));
        await store.deleteDomain('missing.example.com');
        await store.deleteNode('missing');
        await store.deleteToken('missing');
        await store.loadState(ZONE);
        await store.advanceSerial(ZONE, 'h', 1);
        await store.setNodeHealth('missing', false, health());
        await store.putHealthViews(new Map([['missing', view('i1')]]), 60);
        await store.acquireLock('health', 'i1', 1000);
        await store.releaseLock('health', 'i1');
        await store.commitZoneVersion(ZONE, null, { serial: 1, soa: 's', records: [] }, null, 5);
        assert.deepEqual(seen, []);
      });

      it('does not announce its own writes again as remote changes', async () => {
        const seen: StoreChange[] = [];
        store.onChange((c) => seen.push(c));
        await store.putDomain(domain('a.example.com'));
        await store.putZoneText(ZONE, 'x');
        // Long enough for a pub/sub echo or a file poll to arrive.
        await sleep(400);
        assert.deepEqual(
          seen.filter((c) => c.origin === 'remote'),
          [],
        );
      });

      it('unsubscribes a listener', async () => {
        const seen: StoreChange[] = [];
        const off = store.onChange((c) => seen.push(c));
        off();
        await store.putDomain(domain('a.example.com'));
        assert.deepEqual(seen, []);
      });
    });

    describe('advanceSerial (RFC 1982, SERIAL_BITS = 32)', () => {
      it('starts at the floor and keeps the serial while the content hash is unchanged', async () => {
        assert.equal(await store.advanceSerial(ZONE, 'h1', 1000), 1000);
        assert.equal(await store.advanceSerial(ZONE, 'h1', 1000), 1000);
        assert.equal(
          await store.advanceSerial(ZONE, 'h1', 5000),
          1000,
          'a later floor alone changes nothing',
        );
        assert.equal(await store.advanceSerial(ZONE, 'h1', 10), 1000);
      });

      it('steps by one when the floor is not ahead, jumps to the floor when it is', async () => {
        await store.advanceSerial(ZONE, 'h1', 1000);
        assert.equal(await store.advanceSerial(ZONE, 'h2', 1000), 1001);
        assert.equal(await store.advanceSerial(ZONE, 'h3', 500), 1002, 'floor behind');
        assert.equal(await store.advanceSerial(ZONE, 'h4', 1003), 1003, 'floor equal to prev+1');
        assert.equal(await store.advanceSerial(ZONE, 'h5', 2000), 2000, 'floor ahead');
        assert.equal(
          await store.advanceSerial(ZONE, 'h1', 2000),
          2001,
          'an old hash is new content',
        );
      });

      it('keeps serials per zone', async () => {
        assert.equal(await store.advanceSerial(ZONE, 'h1', 100), 100);
        assert.equal(await store.advanceSerial('other.example.', 'h1', 7), 7);
        assert.equal(await store.advanceSerial(ZONE, 'h2', 0), 101);
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
          assert.equal(await store.advanceSerial(zone, 'first', max), max);
          assert.equal(nextSerial(max, floor), expected, `nextSerial(max, ${floor})`);
          assert.equal(
            await store.advanceSerial(zone, 'second', floor),
            expected,
            `${zone} floor ${floor}`,
          );
          assert.equal(await store.advanceSerial(zone, 'third', 0), expected + 1);
        }
      });

      it('ignores a floor more than 2^31 ahead, which RFC 1982 reads as behind', async () => {
        await store.advanceSerial(ZONE, 'h1', 10);
        const farFloor = 10 + 0x80000000 + 5;
        assert.equal(nextSerial(10, farFloor), 11);
        assert.equal(await store.advanceSerial(ZONE, 'h2', farFloor), 11);
      });

      it('never goes backwards across a restart on the same backing', async () => {
        assert.equal(await store.advanceSerial(ZONE, 'h1', 100), 100);
        assert.equal(await store.advanceSerial(ZONE, 'h2', 100), 101);
        await store.stop();

        const again = await reopen();
        assert.equal(await again.advanceSerial(ZONE, 'h2', 50), 101, 'same content, same serial');
        assert.equal(await again.advanceSerial(ZONE, 'h3', 50), 102, 'new content, next serial');
      });
    });

    describe('acme', () => {
      it('keeps several TXT values per name, each with its expiry; deletes one or all', async () => {
        const now = Date.now();
        await store.putAcmeTxt({ name: 'sub-a', value: 'v1', expiresAt: now + 60_000 });
        await store.putAcmeTxt({ name: 'sub-a', value: 'v2', expiresAt: now + 60_000 });
        await store.putAcmeTxt({ name: 'sub-b', value: 'v1', expiresAt: now + 60_000 });
        await store.putAcmeTxt({ name: 'sub-a', value: 'v1', expiresAt: now + 90_000 });
        assert.deepEqual(await store.listAcmeTxt(now), [
          { name: 'sub-a', value: 'v1', expiresAt: now + 90_000 },
          { name: 'sub-a', value: 'v2', expiresAt: now + 60_000 },
          { name: 'sub-b', value: 'v1', expiresAt: now + 60_000 },
        ]);
        assert.equal(await store.deleteAcmeTxt('sub-a', 'v2'), 1);
        assert.equal(await store.deleteAcmeTxt('sub-a', 'missing'), 0);
        assert.equal(await store.deleteAcmeTxt('sub-b'), 1);
        assert.deepEqual(
          (await store.listAcmeTxt(now)).map((t) => [t.name, t.value]),
          [['sub-a', 'v1']],
        );
        assert.deepEqual(await store.listAcmeTxt(now + 90_000), [], 'expired at its expiry');
      });

      it('announces TXT writes as acme changes, and survives a reopen', async () => {
        const seen: StoreChange[] = [];
        store.onChange((c) => seen.push(c));
        const at = Date.now() + 60_000;
        await store.putAcmeTxt({ name: 'x', value: 'v', expiresAt: at });
        await store.deleteAcmeTxt('x', 'v');
        await store.deleteAcmeTxt('x', 'v');
        assert.deepEqual(seen, [
          { kind: 'acme', origin: 'local' },
          { kind: 'acme', origin: 'local' },
        ]);
        await store.putAcmeTxt({ name: 'y', value: 'w', expiresAt: at });
        const again = await reopen();
        assert.deepEqual(await again.listAcmeTxt(Date.now()), [
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
        assert.equal(await store.getAcmeDnsAccount(account.username), undefined);
        await store.putAcmeDnsAccount(account);
        assert.deepEqual(await store.getAcmeDnsAccount(account.username), account);

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
        await store.putAcmeState(state);
        assert.deepEqual(await store.getAcmeState('shop.example.com'), state);
        assert.equal(await store.getAcmeState('other.example.com'), undefined);

        const cert = {
          cert: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n',
          key: '-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n',
          issuedAt: '2024-01-02T00:00:00.000Z',
          expiresAt: '2024-04-01T00:00:00.000Z',
        };
        assert.equal(await store.getCertificate('shop.example.com'), undefined);
        await store.putCertificate('shop.example.com', cert);
        assert.deepEqual(await (await reopen()).getCertificate('shop.example.com'), cert);
      });

      it('claims keys once: the first stored PEM wins', async () => {
        assert.equal(await store.claimAcmeKey({ account: true }, 'pem-1'), 'pem-1');
        assert.equal(await store.claimAcmeKey({ account: true }, 'pem-2'), 'pem-1');
        assert.equal(await store.claimAcmeKey({ domain: 'a.example.com' }, 'k-a'), 'k-a');
        assert.equal(await store.claimAcmeKey({ domain: 'a.example.com' }, 'k-b'), 'k-a');
        assert.equal(await store.claimAcmeKey({ domain: 'b.example.com' }, 'k-b'), 'k-b');
      });

      it('certificate locks are per domain and apart from the named locks', async () => {
        assert.equal(await store.acquireCertLock('a.example.com', 'i1', 5000), true);
        assert.equal(await store.acquireCertLock('a.example.com', 'i2', 5000), false);
        assert.equal(await store.acquireCertLock('b.example.com', 'i2', 5000), true);
        assert.equal(await store.acquireLock('a.example.com', 'i2', 5000), true);
        await store.releaseCertLock('a.example.com', 'i2');
        assert.equal(await store.acquireCertLock('a.example.com', 'i2', 5000), false);
        await store.releaseCertLock('a.example.com', 'i1');
        assert.equal(await store.acquireCertLock('a.example.com', 'i2', 5000), true);
      });
    });

    describe('meta', () => {
      it('stores named facts that survive a restart and are not content', async () => {
        assert.equal(await store.getMeta('seeded'), undefined);
        await store.setMeta('seeded', 'zones at 2026-01-01');
        assert.equal(await store.getMeta('seeded'), 'zones at 2026-01-01');
        assert.equal(await store.isEmpty(ZONE), true, 'meta does not make the store non-empty');
        await store.stop();
        const again = await reopen();
        assert.equal(await again.getMeta('seeded'), 'zones at 2026-01-01');
      });
    });

    describe('lifecycle', () => {
      it('keeps the data across stop and a new store on the same backing', async () => {
        const a = domain('a.example.com');
        const n = node('edge-1', { ipv4: '203.0.113.1' });
        await store.putDomain(a);
        await store.putNode(n);
        await store.putZoneText(ZONE, 'x');
        await store.putToken(token('t1'), 'h1');
        await store.putPolicy(policy());
        await store.stop();
        await store.stop();

        const again = await reopen();
        assert.deepEqual(await again.loadState(ZONE), {
          domains: [a],
          nodes: [n],
          zoneText: 'x',
          policy: policy(),
        });
        assert.equal(await again.tokenIdByHash('h1'), 't1');
      });

      it('a second store on the same backing sees the first one’s writes within a second', async () => {
        const other = await reopen();
        await store.putDomain(domain('a.example.com'));
        const deadline = Date.now() + 1000;
        while (!(await other.getDomain('a.example.com')) && Date.now() < deadline) await sleep(20);
        assert.deepEqual(await other.getDomain('a.example.com'), domain('a.example.com'));
      });
    });
  });
}
