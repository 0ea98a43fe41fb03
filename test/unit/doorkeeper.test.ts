// The doorkeeper the exact answer cache admits through: a key counts as seen from its
// second sighting until the filter is cleared, whatever other keys come meanwhile.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Doorkeeper } from '../../src/lib/doorkeeper.js';

describe('Doorkeeper', () => {
  it('says seen from the second sighting on, for every hash including 0 and 2^32-1', () => {
    const d = new Doorkeeper(12);
    for (const h of [0, 1, 255, 256, 0xffffffff, 0x80000000]) {
      assert.equal(d.seenBefore(h), false, `first ${h}`);
      assert.equal(d.seenBefore(h), true, `second ${h}`);
      assert.equal(d.seenBefore(h), true, `third ${h}`);
    }
  });

  it('keeps a working set of keys whose hashes share their low bits (no key evicts another)', () => {
    const d = new Doorkeeper(21);
    // 20,000 keys, all alike in their low 16 bits: a direct-mapped table would keep one.
    const keys = Array.from({ length: 20_000 }, (_, i) => ((i << 16) | 0x1234) >>> 0);
    for (const k of keys) assert.equal(d.seenBefore(k), false);
    assert.equal(keys.filter((k) => d.seenBefore(k)).length, keys.length);
  });

  it('says "seen" of a new key rarely while under capacity', () => {
    const d = new Doorkeeper(16); // capacity 6,553
    for (let i = 0; i < 6000; i++) d.seenBefore(Math.imul(i + 1, 0x9e3779b1) >>> 0);
    let falsePositives = 0;
    for (let i = 0; i < 500; i++)
      if (d.seenBefore(Math.imul(i + 1_000_000, 0x85ebca6b) >>> 0)) falsePositives++;
    assert.ok(falsePositives < 25, `false positives ${falsePositives} of 500`);
  });

  it('starts afresh after recording its capacity, then remembers again', () => {
    const d = new Doorkeeper(10); // capacity 102
    d.seenBefore(7);
    for (let i = 0; i < 102; i++) d.seenBefore(1000 + i);
    assert.equal(d.seenBefore(7), false, 'cleared');
    assert.equal(d.seenBefore(7), true, 'recorded again');
  });

  it('refuses a size it cannot hold', () => {
    assert.throws(() => new Doorkeeper(5), RangeError);
    assert.throws(() => new Doorkeeper(31), RangeError);
    assert.throws(() => new Doorkeeper(12.5), RangeError);
  });
});
