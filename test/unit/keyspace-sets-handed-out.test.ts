// A large set goes to the state-file writer uncopied and sliced: the keyspace must never
// change a set it handed out (copy on write), and the sliced text must be what
// JSON.stringify writes for the same state with the set as an array.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Keyspace } from '../../src/store/keyspace.js';
import { jsonSlices } from '../../src/store/json-slices.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `site-${i}`);

describe('keyspace sets handed to the state-file writer', () => {
  it('hands out a large set as it is and copies it before the next sadd or srem', () => {
    const k = new Keyspace();
    k.apply([{ op: 'sadd', key: 'big', members: names(1500) }]);
    k.apply([{ op: 'sadd', key: 'small', members: ['a', 'b'] }]);
    const file = k.toFile();
    const handed = file.sets.big;
    assert.ok(handed instanceof Set, 'the large set is not copied');
    assert.equal(handed, k.set('big'));
    assert.ok(Array.isArray(file.sets.small), 'a small set is copied');

    k.apply([{ op: 'sadd', key: 'big', members: ['new-name'] }]);
    k.apply([{ op: 'srem', key: 'big', members: ['site-0'] }]);
    assert.equal(handed.size, 1500, 'what was handed out stays as it was');
    assert.ok(handed.has('site-0') && !handed.has('new-name'));
    assert.notEqual(k.set('big'), handed);
    assert.ok(k.set('big')?.has('new-name') && !k.set('big')?.has('site-0'));
    assert.equal(k.set('big')?.size, 1500);

    // The copy is the keyspace's own again: changed in place until handed out next time.
    const own = k.set('big');
    k.apply([{ op: 'sadd', key: 'big', members: ['another'] }]);
    assert.equal(k.set('big'), own);
  });

  it('writes the file as JSON.stringify would, whatever the slice size', () => {
    const k = new Keyspace();
    k.apply([
      { op: 'sadd', key: 'cdn:domains', members: names(2345) },
      { op: 'sadd', key: 'tiny', members: ['x'] },
      { op: 'set', key: 's', value: 'v' },
    ]);
    const plain = (f: ReturnType<Keyspace['toFile']>) =>
      JSON.stringify({
        ...f,
        json: Object.fromEntries(f.json instanceof Map ? f.json : Object.entries(f.json)),
        sets: Object.fromEntries(Object.entries(f.sets).map(([key, v]) => [key, [...v]])),
      });
    for (const size of [1, 7, 500, 5000]) {
      const file = k.toFile();
      const slices = [...jsonSlices(file, size)];
      assert.equal(slices.join(''), plain(file));
      if (size === 500) assert.ok(slices.length >= 5, 'the 2,345 members take several slices');
      assert.deepEqual(
        [...Keyspace.fromFile(JSON.parse(slices.join(''))).set('cdn:domains')!],
        names(2345),
      );
    }
  });
});
