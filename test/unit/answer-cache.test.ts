// The snapshot's answer cache admits by use: a flood of names asked once, negative
// (random-subdomain NXDOMAIN) or positive, leaves the answers asked again and again in
// place, and memory stays bounded by the entry count.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerCache, type CachedAnswer } from '../../src/snapshot/answer-cache.js';

const counter = { inc() {} };

/** An entry whose wire has the given rcode and answer count (all the cache reads). */
function entry(id: number, rcode: number, answers: number): CachedAnswer {
  const wire = Buffer.alloc(60);
  wire[3] = rcode;
  wire.writeUInt16BE(answers, 6);
  const key = Buffer.alloc(30);
  key.writeUInt32BE(id, 0);
  return {
    key,
    transport: 'udp',
    address: '198.51.100.7',
    questionEnd: 30,
    cookieStart: 0,
    cookieEnd: 0,
    cookie: false,
    counter,
    wire,
    truncated: false,
    decisions: [],
    validUntil: Infinity,
    ttlOffsets: [],
    ttlFloor: 0,
  };
}

describe('answer cache admission', () => {
  const HOT = 50;
  const hot = (cache: AnswerCache) => {
    for (let k = 1; k <= HOT; k++) cache.set(k, entry(k, 0, 1));
    for (let round = 0; round < 5; round++)
      for (let k = 1; k <= HOT; k++) assert.ok(cache.get(k), `hot ${k} cached`);
  };

  it('keeps hot answers through a random-subdomain (NXDOMAIN) flood', () => {
    const cache = new AnswerCache(undefined, 1000);
    hot(cache);
    for (let k = 1_000_000; k < 1_020_000; k++) {
      cache.get(k);
      cache.set(k, entry(k, 3, 0));
    }
    for (let k = 1; k <= HOT; k++) assert.ok(cache.get(k), `hot ${k} survived`);
    assert.ok(cache.size <= 1000, `size ${cache.size}`);
  });

  it('keeps hot answers through a flood of positive names asked once', () => {
    const cache = new AnswerCache(undefined, 1000);
    hot(cache);
    for (let k = 2_000_000; k < 2_020_000; k++) {
      cache.get(k);
      cache.set(k, entry(k, 0, 1));
    }
    for (let k = 1; k <= HOT; k++) assert.ok(cache.get(k), `hot ${k} survived`);
    assert.ok(cache.size <= 1000);
  });

  it('lists the hottest answers first for the prewarm', () => {
    const cache = new AnswerCache(undefined, 1000);
    cache.set(900, entry(900, 3, 0));
    cache.set(901, entry(901, 0, 1));
    hot(cache);
    const order = [...cache.hottestFirst()].map((e) => e.key.readUInt32BE(0));
    assert.equal(order.length, HOT + 2);
    assert.equal(order.at(-1), 900, 'negative answers last');
    assert.ok(order.indexOf(901) > order.indexOf(1), 'answers used again before ones used once');
  });
});
