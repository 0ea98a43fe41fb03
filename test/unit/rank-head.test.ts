// rankHead is exactly a prefix of rank (same order, same tie rule, weight 0 left out), and
// the GSLB picks made from a pool's head equal those made from its full order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rank, rankHead, hash32, type Weighted } from '../../src/gslb/rendezvous.js';
import { FamilyPool, type NodeEntry } from '../../src/gslb/plan.js';

function nodes(n: number, salt: number): NodeEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `n${i}`,
    pool: 'p',
    // Some weight 0, some equal seeds (ties), most distinct.
    weight: (i + salt) % 7 === 0 ? 0 : 50 + ((i * 13 + salt) % 3) * 50,
    seed: i % 11 === 5 ? 42 : hash32(`n${i}-${salt}`),
    active: (i + salt) % 4 !== 0,
    healthy: true,
    drained: false,
    a: Buffer.from([192, 0, 2, i & 0xff]),
    aaaa: undefined,
  }));
}

describe('rankHead', () => {
  it('is a prefix of rank for every length', () => {
    for (let salt = 0; salt < 20; salt++) {
      const list: Weighted[] = nodes(40, salt);
      for (const key of [1, 7, hash32(`k${salt}`), 0xffffffff]) {
        const full = rank(key, list);
        for (const m of [1, 2, 5, 17, 39, 40, 60]) {
          assert.deepEqual(
            [...rankHead(key, list, m)],
            full.slice(0, m),
            `salt ${salt} key ${key} m ${m}`,
          );
        }
      }
    }
  });

  it('holds the first N eligible nodes of the full order', () => {
    for (let salt = 0; salt < 20; salt++) {
      const list = nodes(60, salt);
      const pool = new FamilyPool(4, list);
      const fresh = new FamilyPool(4, list);
      for (let key = 0; key < 50; key++) {
        const seed = hash32(`d${key}`);
        for (const want of [1, 2, 3, 10]) {
          const firstActive = (order: Uint16Array) =>
            [...order].filter((i) => (list[i] as NodeEntry).active).slice(0, want);
          assert.deepEqual(firstActive(pool.head(seed, want)), firstActive(fresh.order(seed)));
        }
      }
    }
  });
});
