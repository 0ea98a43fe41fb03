// The doorkeeper the exact answer cache admits through: a key counts as seen from its
// second sighting, until another key takes its slot.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Doorkeeper } from '../../src/lib/doorkeeper.js';

describe('Doorkeeper', () => {
  it('says seen from the second sighting on, for every hash including 0 and 2^32-1', () => {
    const d = new Doorkeeper(8);
    for (const h of [0, 1, 255, 256, 0xffffffff, 0x80000000]) {
      assert.equal(d.seenBefore(h), false, `first ${h}`);
      assert.equal(d.seenBefore(h), true, `second ${h}`);
      assert.equal(d.seenBefore(h), true, `third ${h}`);
    }
  });

  it('forgets a key whose slot another key took, and keeps keys in other slots', () => {
    const d = new Doorkeeper(4);
    d.seenBefore(3);
    d.seenBefore(4);
    d.seenBefore(3 + 16); // the same slot as 3
    assert.equal(d.seenBefore(3), false, '3 was displaced');
    assert.equal(d.seenBefore(4), true, '4 kept its slot');
  });

  it('over many distinct keys, keeps about as many as it has slots', () => {
    const d = new Doorkeeper(10);
    const keys = Array.from({ length: 5000 }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 0);
    for (const k of keys) d.seenBefore(k);
    // Asked newest first (asking records too): the low 10 bits of these hashes run through
    // every slot once per 1,024 keys, so exactly the last 1,024 are still there.
    const kept = keys.toReversed().filter((k) => d.seenBefore(k)).length;
    assert.equal(kept, 1024);
  });

  it('refuses a size it cannot hold', () => {
    assert.throws(() => new Doorkeeper(0), RangeError);
    assert.throws(() => new Doorkeeper(27), RangeError);
    assert.throws(() => new Doorkeeper(1.5), RangeError);
  });
});
