// The store contract, run against every engine (embedded, Redis): the primitives every
// feature's repository builds on. Engine-specific behaviour is tested beside each runner.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, StoreChange } from '../src/store/store.js';
import type { StoreFixture } from './repositories-contract.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
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

    it('strings: set, get, mget, exists, del', async () => {
      assert.equal(await store.get('k:a'), undefined);
      assert.equal(await store.exists('k:a'), false);
      assert.equal(await store.write([{ op: 'set', key: 'k:a', value: 'one' }]), true);
      await store.write([{ op: 'set', key: 'k:b', value: 'two' }]);
      assert.equal(await store.get('k:a'), 'one');
      assert.equal(await store.exists('k:a'), true);
      assert.deepEqual(await store.mget(['k:a', 'k:missing', 'k:b']), ['one', undefined, 'two']);
      await store.write([{ op: 'del', key: 'k:a' }]);
      assert.equal(await store.get('k:a'), undefined);
      assert.deepEqual(await store.mget([]), []);
    });

    it('JSON values: written whole, read in key order, copies unless shared', async () => {
      const value = { name: 'a', list: [1, 2], nested: { ok: true } };
      await store.write([{ op: 'setJson', key: 'j:a', value }]);
      value.list.push(3);
      assert.deepEqual(await store.getJson(['j:missing', 'j:a']), [
        undefined,
        { name: 'a', list: [1, 2], nested: { ok: true } },
      ]);
      const [copy] = (await store.getJson(['j:a'])) as [{ list: number[] }];
      copy.list.push(9);
      assert.deepEqual(await store.getJson(['j:a'], { shared: true }), [
        { name: 'a', list: [1, 2], nested: { ok: true } },
      ]);
      assert.deepEqual(JSON.parse((await store.get('j:a')) ?? 'null'), {
        name: 'a',
        list: [1, 2],
        nested: { ok: true },
      });
      await store.write([{ op: 'set', key: 'j:text', value: '{"x":1}' }]);
      await store.write([{ op: 'set', key: 'j:bad', value: '{not json' }]);
      assert.deepEqual(await store.getJson(['j:text', 'j:bad']), [{ x: 1 }, undefined]);
    });

    it('hashes: fields set and deleted one by one; an emptied hash is gone', async () => {
      await store.write([{ op: 'hset', key: 'h:a', fields: { x: '1', y: '2' } }]);
      await store.write([{ op: 'hset', key: 'h:a', fields: { y: '3', z: '4' } }]);
      assert.deepEqual(await store.hgetall(['h:a', 'h:none']), [{ x: '1', y: '3', z: '4' }, {}]);
      assert.equal(await store.hget('h:a', 'y'), '3');
      assert.equal(await store.hget('h:a', 'nope'), undefined);
      await store.write([{ op: 'hdel', key: 'h:a', fields: ['x', 'nope'] }]);
      assert.deepEqual(await store.hgetall(['h:a']), [{ y: '3', z: '4' }]);
      await store.write([{ op: 'hdel', key: 'h:a', fields: ['y', 'z'] }]);
      assert.equal(await store.exists('h:a'), false);
    });

    it('sets: members added once, removed, counted', async () => {
      await store.write([{ op: 'sadd', key: 's:a', members: ['x', 'y', 'x'] }]);
      assert.deepEqual((await store.smembers('s:a')).sort(), ['x', 'y']);
      assert.equal(await store.scard('s:a'), 2);
      assert.equal(await store.sismember('s:a', 'x'), true);
      assert.equal(await store.sismember('s:a', 'z'), false);
      await store.write([{ op: 'srem', key: 's:a', members: ['x', 'z'] }]);
      assert.deepEqual(await store.smembers('s:a'), ['y']);
      assert.deepEqual(await store.smembers('s:none'), []);
      assert.equal(await store.scard('s:none'), 0);
    });

    it('sorted sets: by score, rescored, removed by member and by maximum score', async () => {
      await store.write([
        { op: 'zadd', key: 'z:a', member: 'late', score: 300 },
        { op: 'zadd', key: 'z:a', member: 'early', score: 100 },
        { op: 'zadd', key: 'z:a', member: 'mid', score: 200 },
      ]);
      await store.write([{ op: 'zadd', key: 'z:a', member: 'early', score: 250 }]);
      assert.deepEqual(await store.zrange('z:a'), [
        { member: 'mid', score: 200 },
        { member: 'early', score: 250 },
        { member: 'late', score: 300 },
      ]);
      await store.write([{ op: 'zremMax', key: 'z:a', max: 250 }]);
      assert.deepEqual(await store.zrange('z:a'), [{ member: 'late', score: 300 }]);
      await store.write([{ op: 'zrem', key: 'z:a', members: ['late'] }]);
      assert.deepEqual(await store.zrange('z:a'), []);
    });

    it('lists: appended in order, the last `keep` kept', async () => {
      await store.write([{ op: 'rpush', key: 'l:a', values: ['1', '2'] }]);
      await store.write([{ op: 'rpush', key: 'l:a', values: ['3', '4'], keep: 3 }]);
      assert.deepEqual(await store.lrange('l:a'), ['2', '3', '4']);
      assert.deepEqual(await store.lrange('l:none'), []);
    });

    it('streams: increasing ids, fields kept, about the last maxLen kept, newest by count', async () => {
      for (let i = 0; i < 5; i++)
        await store.write([
          { op: 'xadd', key: 'x:a', fields: { n: String(i), who: 'e' }, maxLen: 3 },
        ]);
      const all = await store.xrange('x:a');
      // MAXLEN ~ may keep more than 3 (Redis trims whole nodes), never fewer.
      assert.ok(all.length >= 3 && all.length <= 5, `${all.length} entries`);
      assert.deepEqual(
        all.slice(-3).map((e) => e.fields),
        [2, 3, 4].map((n) => ({ n: String(n), who: 'e' })),
      );
      const ids = all.map((e) => e.id.split('-').map(Number) as [number, number]);
      for (let i = 1; i < ids.length; i++) {
        const [a, b] = [ids[i - 1]!, ids[i]!];
        assert.ok(
          b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]),
          `${all[i]!.id} after ${all[i - 1]!.id}`,
        );
      }
      assert.deepEqual(
        (await store.xrange('x:a', 2)).map((e) => e.fields.n),
        ['3', '4'],
      );
      assert.deepEqual(await store.xrange('x:none'), []);
    });

    it('a write with conditions is all or nothing', async () => {
      await store.write([
        { op: 'set', key: 'c:s', value: 'v1' },
        { op: 'hset', key: 'c:h', fields: { f: '1' } },
        { op: 'sadd', key: 'c:set', members: ['a', 'b'] },
      ]);
      const ops = [
        { op: 'set' as const, key: 'c:s', value: 'v2' },
        { op: 'sadd' as const, key: 'c:set', members: ['c'] },
      ];
      const failing = [
        [{ key: 'c:s', equals: 'other' }],
        [{ key: 'c:s', equals: undefined }],
        [{ key: 'c:h', field: 'f', equals: '2' }],
        [{ key: 'c:h', field: 'g', equals: '1' }],
        [{ key: 'c:set', member: 'a', present: false }],
        [{ key: 'c:set', member: 'z', present: true }],
        [{ key: 'c:set', size: 3 }],
        [
          { key: 'c:s', equals: 'v1' },
          { key: 'c:set', size: 1 },
        ],
      ];
      for (const conditions of failing) {
        assert.equal(await store.write(ops, { if: conditions }), false, JSON.stringify(conditions));
        assert.equal(await store.get('c:s'), 'v1');
        assert.equal(await store.scard('c:set'), 2);
      }
      const holding = [
        { key: 'c:s', equals: 'v1' },
        { key: 'c:absent', equals: undefined },
        { key: 'c:h', field: 'f', equals: '1' },
        { key: 'c:h', field: 'g', equals: undefined },
        { key: 'c:set', member: 'a', present: true },
        { key: 'c:set', member: 'z', present: false },
        { key: 'c:set', size: 2 },
        { key: 'c:none', size: 0 },
      ];
      assert.equal(await store.write(ops, { if: holding }), true);
      assert.equal(await store.get('c:s'), 'v2');
      assert.equal(await store.scard('c:set'), 3);
    });

    it('compare-and-set: of two racing writers on one condition, one wins', async () => {
      const results = await Promise.all(
        ['a', 'b', 'c'].map((who) =>
          store.write([{ op: 'set', key: 'cas', value: who }], {
            if: [{ key: 'cas', equals: undefined }],
          }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const winner = ['a', 'b', 'c'][results.indexOf(true)];
      assert.equal(await store.get('cas'), winner);
    });

    it('announces the change a write names, once, and nothing for the rest', async () => {
      const seen: StoreChange[] = [];
      const off = store.onChange((c) => seen.push(c));
      await store.write([{ op: 'set', key: 'e:a', value: '1' }], { change: 'domains' });
      await store.write([{ op: 'set', key: 'e:b', value: '1' }]);
      await store.write([{ op: 'set', key: 'e:c', value: '1' }], {
        change: 'nodes',
        if: [{ key: 'e:a', equals: 'nope' }],
      });
      await store.write([{ op: 'set', key: 'e:d', value: '1' }], { change: 'health', lazy: true });
      await store.get('e:a');
      await sleep(100);
      off();
      await store.write([{ op: 'set', key: 'e:e', value: '1' }], { change: 'zone' });
      assert.deepEqual(seen, [
        { kind: 'domains', origin: 'local' },
        { kind: 'health', origin: 'local' },
      ]);
    });

    it('a key written with a TTL expires on its own', async () => {
      await store.write([{ op: 'set', key: 't:a', value: 'x', ttlMs: 150 }]);
      assert.equal(await store.get('t:a'), 'x');
      await sleep(300);
      assert.equal(await store.get('t:a'), undefined);
      assert.deepEqual(await store.mget(['t:a']), [undefined]);
    });

    it('leases: one owner at a time, renewed by the owner, released only by it, expiring', async () => {
      assert.equal(await store.acquireLock('lock:a', 'one', 5000), true);
      assert.equal(await store.acquireLock('lock:a', 'two', 5000), false);
      assert.equal(await store.acquireLock('lock:a', 'one', 5000), true, 'renewal');
      await store.releaseLock('lock:a', 'two');
      assert.equal(
        await store.acquireLock('lock:a', 'two', 5000),
        false,
        'not released by another',
      );
      await store.releaseLock('lock:a', 'one');
      assert.equal(await store.acquireLock('lock:a', 'two', 150), true);
      await sleep(300);
      assert.equal(await store.acquireLock('lock:a', 'three', 5000), true, 'expired');
    });

    it('keeps every value type across a new store on the same backing', async () => {
      await store.write([
        { op: 'set', key: 'p:s', value: 'text' },
        { op: 'setJson', key: 'p:j', value: { a: [1, 'b'] } },
        { op: 'hset', key: 'p:h', fields: { f: 'v' } },
        { op: 'sadd', key: 'p:set', members: ['m1', 'm2'] },
        { op: 'zadd', key: 'p:z', member: 'zm', score: 42 },
        { op: 'rpush', key: 'p:l', values: ['1', '2'] },
      ]);
      await store.write([{ op: 'hset', key: 'p:lazy', fields: { n: '1' } }], { lazy: true });
      await store.write([{ op: 'set', key: 'p:after', value: 'x' }]);
      const again = await reopen();
      assert.equal(await again.get('p:s'), 'text');
      assert.deepEqual(await again.getJson(['p:j']), [{ a: [1, 'b'] }]);
      assert.deepEqual(await again.hgetall(['p:h', 'p:lazy']), [{ f: 'v' }, { n: '1' }]);
      assert.deepEqual((await again.smembers('p:set')).sort(), ['m1', 'm2']);
      assert.deepEqual(await again.zrange('p:z'), [{ member: 'zm', score: 42 }]);
      assert.deepEqual(await again.lrange('p:l'), ['1', '2']);
      assert.equal(await again.get('p:after'), 'x');
    });
  });
}
