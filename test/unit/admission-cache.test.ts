import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionCache, ENTRY_OVERHEAD_BYTES } from '../../src/lib/admission-cache.js';

/** A deterministic PRNG (mulberry32), so every run floods with the same names. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOT = 1000;
const hotKey = (i: number) => 0x10000000 + i;

/**
 * The query path in small: look the key up, and on a miss offer the answer. Returns
 * whether the lookup hit.
 */
function ask(cache: AdmissionCache<string>, key: number, negative = false, bytes = 200): boolean {
  if (cache.get(key) !== undefined) return true;
  cache.set(key, `answer ${key}`, bytes, negative);
  return false;
}

/**
 * 200,000 names asked once each, interleaved with queries for a hot set of 1,000 names
 * (one in every `every` queries, uniformly over the hot set): how many hot answers are
 * resident at the end, and the hot hit ratio over the second half.
 */
function flood(cache: AdmissionCache<string>, opts: { negative: boolean; every: number }) {
  const random = prng(7);
  let hotHits = 0;
  let hotAsks = 0;
  for (let i = 0; i < 200_000; i++) {
    ask(cache, 0x80000000 + i, opts.negative);
    if (i % opts.every === 0) {
      const hit = ask(cache, hotKey(Math.floor(random() * HOT)));
      // The hit ratio once warm: over the second half of the flood.
      if (i >= 100_000) {
        hotAsks++;
        if (hit) hotHits++;
      }
    }
  }
  let resident = 0;
  for (let i = 0; i < HOT; i++) if (cache.peek(hotKey(i)) !== undefined) resident++;
  return { resident, hitRatio: hotHits / hotAsks };
}

describe('admission cache', () => {
  it('keeps ≥ 95 % of a hot set through a 200,000-name flood of positive answers', () => {
    // One hot query in 20: a hot name comes back every ~20,000 flood names, twice the
    // cache's size, so recency alone (an LRU) would have evicted it by then.
    const cache = new AdmissionCache<string>({ entries: 10_000 });
    const { resident, hitRatio } = flood(cache, { negative: false, every: 20 });
    assert.ok(resident >= 950, `${resident} of ${HOT} hot answers resident`);
    assert.ok(hitRatio >= 0.9, `hot hit ratio ${hitRatio}`);
    assert.ok(cache.size <= 10_000);
  });

  it('keeps a hot set that an LRU of the same size loses to the same flood', () => {
    // The workload above against a plain LRU (a Map in recency order): the control that
    // shows the flood is one recency cannot survive.
    const lru = new Map<number, string>();
    const random = prng(7);
    for (let i = 0; i < 200_000; i++) {
      for (const key of i % 20 === 0
        ? [0x80000000 + i, hotKey(Math.floor(random() * HOT))]
        : [0x80000000 + i]) {
        const v = lru.get(key);
        lru.delete(key);
        lru.set(key, v ?? 'x');
        if (lru.size > 10_000) lru.delete(lru.keys().next().value as number);
      }
    }
    let resident = 0;
    for (let i = 0; i < HOT; i++) if (lru.has(hotKey(i))) resident++;
    assert.ok(resident < 700, `an LRU kept ${resident}`);
  });

  it('keeps every hot answer through a flood of negative answers', () => {
    const cache = new AdmissionCache<string>({ entries: 10_000, negativeShare: 0.1 });
    for (let i = 0; i < HOT; i++) ask(cache, hotKey(i));
    const { resident } = flood(cache, { negative: true, every: 20 });
    assert.equal(resident, HOT);
    assert.equal(cache.stats.evictedPositive, 0, 'no positive answer was evicted');
    assert.ok(cache.segments.negative <= 1000, `${cache.segments.negative} negative entries`);
  });

  it('stays within its entry and byte bounds whatever is offered', () => {
    const cache = new AdmissionCache<string>({ entries: 5000, bytes: 1_000_000 });
    const random = prng(3);
    for (let i = 0; i < 100_000; i++) {
      const key = Math.floor(random() * 50_000);
      if (cache.get(key) === undefined)
        cache.set(key, 'x', Math.floor(random() * 2000), random() < 0.3);
      assert.ok(cache.size <= 5000);
      assert.ok(cache.bytes <= 1_000_000, `${cache.bytes} bytes`);
    }
    const { probation, protected: prot, negative } = cache.segments;
    assert.equal(probation + prot + negative, cache.size);
    assert.ok(negative <= 500);
  });

  it('gets what was set, replaces on a second set, deletes', () => {
    const cache = new AdmissionCache<string>({ entries: 100 });
    assert.equal(cache.get(1), undefined);
    assert.equal(cache.set(1, 'a', 10, false), true);
    assert.equal(cache.get(1), 'a');
    assert.equal(cache.set(1, 'b', 10, true), true);
    assert.equal(cache.get(1), 'b');
    assert.deepEqual(cache.segments, { probation: 0, protected: 0, negative: 1 });
    assert.equal(cache.bytes, 10 + ENTRY_OVERHEAD_BYTES);
    assert.equal(cache.delete(1), true);
    assert.equal(cache.delete(1), false);
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
    assert.deepEqual(cache.stats, {
      hits: 2,
      misses: 1,
      rejected: 0,
      evictedPositive: 0,
      evictedNegative: 0,
    });
  });

  it('promotes an entry hit again to the protected segment', () => {
    const cache = new AdmissionCache<string>({ entries: 100 });
    cache.set(1, 'a', 10, false);
    assert.deepEqual(cache.segments, { probation: 1, protected: 0, negative: 0 });
    cache.get(1);
    assert.deepEqual(cache.segments, { probation: 0, protected: 1, negative: 0 });
  });

  it('refuses a newcomer used less than its victim, and takes it once used more', () => {
    const cache = new AdmissionCache<string>({ entries: 20, negativeShare: 0.5 });
    for (let k = 1; k <= 10; k++) {
      ask(cache, k);
      ask(cache, k);
    }
    assert.equal(cache.segments.protected + cache.segments.probation, 10, 'positive space full');
    assert.equal(cache.set(99, 'new', 10, false), false, 'never looked up: refused');
    assert.equal(cache.stats.rejected, 1);
    for (let i = 0; i < 4; i++) cache.get(99);
    assert.equal(cache.set(99, 'new', 10, false), true, 'asked four times: admitted');
    assert.equal(cache.size, 10);
  });

  it('lets a new hot set in once the old one stops being asked', () => {
    const cache = new AdmissionCache<string>({ entries: 2000 });
    const random = prng(11);
    for (let i = 0; i < 50_000; i++) ask(cache, hotKey(Math.floor(random() * HOT)));
    const next = (i: number) => 0x20000000 + i;
    for (let i = 0; i < 100_000; i++) {
      ask(cache, next(Math.floor(random() * HOT)));
      ask(cache, 0x80000000 + i);
    }
    let resident = 0;
    for (let i = 0; i < HOT; i++) if (cache.peek(next(i)) !== undefined) resident++;
    assert.ok(resident >= 950, `${resident} of the new hot set resident`);
  });

  it('refuses an entry larger than its space', () => {
    const cache = new AdmissionCache<string>({ entries: 10, bytes: 10_000, negativeShare: 0.1 });
    assert.equal(cache.set(1, 'big', 2000, true), false);
    assert.equal(cache.set(2, 'fits', 2000, false), true);
  });

  it('lists its values', () => {
    const cache = new AdmissionCache<string>({ entries: 10 });
    cache.set(1, 'a', 1, false);
    cache.set(2, 'b', 1, true);
    assert.deepEqual([...cache.values()], ['a', 'b'], 'oldest set first');
  });

  it('lists the entries most worth keeping first', () => {
    const cache = new AdmissionCache<string>({ entries: 100 });
    cache.set(1, 'probation, older', 1, false);
    cache.set(2, 'negative', 1, true);
    cache.set(3, 'probation, newer', 1, false);
    cache.set(4, 'protected, hit first', 1, false);
    cache.set(5, 'protected, hit last', 1, false);
    cache.get(4);
    cache.get(5);
    assert.deepEqual(
      [...cache.hottestFirst()],
      [
        'protected, hit last',
        'protected, hit first',
        'probation, newer',
        'probation, older',
        'negative',
      ],
    );
  });
});
