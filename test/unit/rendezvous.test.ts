import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash32, rank } from '../../src/gslb/rendezvous.js';
import { FamilyPool, select, type DomainPlan, type NodeEntry } from '../../src/gslb/plan.js';

const DOMAINS = Array.from({ length: 5000 }, (_, i) => `site-${i}.example.com`);

function nodes(n: number, weight = () => 100): NodeEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `node-${i}`,
    pool: 'default',
    weight: weight(),
    active: true,
    seed: hash32(`node-${i}`),
    a: Buffer.from([192, 0, 2, i]),
    aaaa: undefined,
  }));
}

const winner = (key: string, ns: NodeEntry[]) => ns[rank(hash32(key), ns)[0] as number]?.id;

function plan(domain: string, answers = 1): DomainPlan {
  return {
    domain,
    label: domain,
    owner: domain,
    ttl: 60,
    failoverTtl: 20,
    answers,
    keySeed: hash32(domain),
    fallbackA: [Buffer.from([203, 0, 113, 1])],
    fallbackAAAA: [],
    fallbackHost: undefined,
  };
}

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

  it('skips inactive nodes in order and falls back to the origin when none is active', () => {
    const ns = nodes(5);
    const pool = new FamilyPool(4, ns);
    const p = plan('www.example.com', 2);
    const order = [...pool.order(p.keySeed)];
    const first = select(p, pool);
    assert.deepEqual(first.nodes, [`node-${order[0]}`, `node-${order[1]}`]);
    (ns[order[0] as number] as { active: boolean }).active = false;
    const pool2 = new FamilyPool(4, ns);
    assert.deepEqual(select(p, pool2).nodes, [`node-${order[1]}`, `node-${order[2]}`]);
    const down = new FamilyPool(
      4,
      ns.map((n) => ({ ...n, active: false })),
    );
    const fb = select(p, down);
    assert.equal(fb.source, 'origin');
    assert.equal(fb.ttl, 20);
    assert.deepEqual([...(fb.rdata[0] as Buffer)], [203, 0, 113, 1]);
  });
});
