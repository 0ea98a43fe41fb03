import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash32, rank } from '../../src/gslb/rendezvous.js';
import type { NodeEntry } from '../../src/gslb/plan.js';

const DOMAINS = Array.from({ length: 5000 }, (_, i) => `site-${i}.example.com`);

function nodes(n: number, weight = () => 100): NodeEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `node-${i}`,
    pool: 'default',
    weight: weight(),
    active: true,
    healthy: true,
    drained: false,
    seed: hash32(`node-${i}`),
    a: Buffer.from([192, 0, 2, i]),
    aaaa: undefined,
  }));
}

const winner = (key: string, ns: NodeEntry[]) => ns[rank(hash32(key), ns)[0] as number]?.id;

describe('weighted rendezvous hashing', () => {
  it('spreads domains evenly over equal nodes', () => {
    const ns = nodes(20);
    const per = new Map<string, number>();
    for (const d of DOMAINS)
      per.set(winner(d, ns) as string, (per.get(winner(d, ns) as string) ?? 0) + 1);
    const expected = DOMAINS.length / 20;
    for (const [, c] of per)
      assert.ok(Math.abs(c - expected) < expected * 0.3, `share ${c} vs ${expected}`);
  });

  it('moves about 1/(N+1) of the domains, all to the new node, when one node is added', () => {
    const before = nodes(20);
    const after = nodes(21);
    let moved = 0;
    for (const d of DOMAINS) {
      const a = winner(d, before);
      const b = winner(d, after);
      if (a !== b) {
        moved++;
        assert.equal(b, 'node-20', `${d} moved from ${a} to ${b}, not to the new node`);
      }
    }
    const share = moved / DOMAINS.length;
    assert.ok(share > 0.03 && share < 0.07, `moved share ${share} vs 1/21 ≈ 0.048`);
  });

  it('moves only the removed node’s domains when one node is removed', () => {
    const all = nodes(20);
    const without = all.filter((n) => n.id !== 'node-7');
    for (const d of DOMAINS) {
      const a = winner(d, all);
      if (a !== 'node-7') assert.equal(winner(d, without), a);
    }
  });

  it('gives a node a share proportional to its weight', () => {
    const ns = nodes(4);
    (ns[0] as { weight: number }).weight = 400;
    const heavy = DOMAINS.filter((d) => winner(d, ns) === 'node-0').length / DOMAINS.length;
    assert.ok(Math.abs(heavy - 4 / 7) < 0.04, `weight-4 node share ${heavy} vs 0.571`);
  });

  it('never picks a node of weight 0', () => {
    const ns = nodes(3);
    (ns[1] as { weight: number }).weight = 0;
    for (const d of DOMAINS.slice(0, 500)) assert.ok(!rank(hash32(d), ns).includes(1));
  });
});
