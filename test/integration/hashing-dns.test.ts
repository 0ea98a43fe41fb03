// Rendezvous hashing seen from outside: 300 domains over 20 edges, asked over real UDP.
// Adding a 21st edge must move about 1/21 of the domains, all of them to the new edge;
// taking an edge out must move only the domains it answered for.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { UdpResolver } from '../helpers/dns-udp.js';
import { dig } from '../helpers/dig.js';

const NODES = 20;
const DOMAINS = 300;
const ip = (i: number) => `192.0.2.${i + 1}`;
const nodeId = (i: number) => `edge-${String(i + 1).padStart(2, '0')}`;

describe('rendezvous hashing over DNS', () => {
  let run: RunningCirrus;
  let resolver: UdpResolver;
  const names: string[] = [];
  /** base name → the single edge address answered. */
  let initial = new Map<string, string>();
  let withNew = new Map<string, string>();

  const answers = async (): Promise<Map<string, string>> => {
    const got = await resolver.addresses(names);
    const out = new Map<string, string>();
    for (const [name, addrs] of got) {
      assert.equal(addrs.length, 1, `${name} answered ${addrs.join(', ')}`);
      out.set(name, addrs[0] as string);
    }
    return out;
  };
  const moved = (from: Map<string, string>, to: Map<string, string>) =>
    names.filter((n) => from.get(n) !== to.get(n));

  before(async () => {
    run = await startCirrus();
    resolver = new UdpResolver(run.dnsPort);
    const nodes = Array.from({ length: NODES }, (_, i) => ({ id: nodeId(i), ipv4: ip(i) }));
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', nodes)).status, 200);
    for (let i = 0; i < DOMAINS; i++) {
      const res = await api(run, 'POST', '/api/v1/domains', {
        domain: `site${i}.customer${i % 7}.example`,
        origins: [{ address: '203.0.113.1' }],
      });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      names.push(res.json.cname as string);
    }
  });
  after(async () => {
    await resolver?.close();
    await run?.stop();
  });

  it('answers every domain with one of the 20 edges, spread over most of them', async () => {
    initial = await answers();
    assert.equal(initial.size, DOMAINS);
    const edges = new Set(Array.from({ length: NODES }, (_, i) => ip(i)));
    const perEdge = new Map<string, number>();
    for (const a of initial.values()) {
      assert.ok(edges.has(a), `${a} is not an edge`);
      perEdge.set(a, (perEdge.get(a) ?? 0) + 1);
    }
    // 15 per edge on average; a hash that ignored the domain would put all on one edge.
    assert.ok(perEdge.size >= 18, `only ${perEdge.size} edges used`);
    assert.ok(
      Math.max(...perEdge.values()) <= 40,
      `one edge holds ${Math.max(...perEdge.values())} domains`,
    );
    // The same question gets the same answer (no per-query randomness), also over TCP via dig.
    const again = await answers();
    assert.deepEqual(moved(initial, again), []);
    const sample = names[0] as string;
    const viaDig = await dig(run.dnsPort, ['+tcp', sample, 'A']);
    assert.match(
      viaDig.answer[0] ?? '',
      new RegExp(` ${(initial.get(sample) as string).replace(/\./g, '\\.')}$`),
    );
  });

  it('a 21st edge takes about 1/21 of the domains, and only it gains any', async (t) => {
    const newIp = '198.51.100.21';
    const res = await api(run, 'PUT', '/api/v1/nodes/edge-new', { ipv4: newIp });
    assert.equal(res.status, 201);
    withNew = await answers();
    const m = moved(initial, withNew);
    const share = m.length / DOMAINS;
    t.diagnostic(`${m.length} of ${DOMAINS} domains moved to the new edge`);
    assert.ok(
      share >= 0.01 && share <= 0.12,
      `${m.length} of ${DOMAINS} moved (${(share * 100).toFixed(1)}%), expected about ${(100 / 21).toFixed(1)}%`,
    );
    for (const n of m)
      assert.equal(withNew.get(n), newIp, `${n} moved to ${withNew.get(n)}, not to the new edge`);
  });

  it('deactivating an edge moves only the domains it answered for', async (t) => {
    // The original edge holding the most domains now, so the move is large enough to see.
    const count = new Map<string, number>();
    for (const a of withNew.values()) count.set(a, (count.get(a) ?? 0) + 1);
    let victim = 0;
    for (let i = 0; i < NODES; i++)
      if ((count.get(ip(i)) ?? 0) > (count.get(ip(victim)) ?? 0)) victim = i;
    const victimIp = ip(victim);
    const held = names.filter((n) => withNew.get(n) === victimIp);
    assert.ok(held.length > 0);
    t.diagnostic(`${nodeId(victim)} held ${held.length} domains`);

    const res = await api(run, 'PATCH', `/api/v1/nodes/${nodeId(victim)}`, { active: false });
    assert.equal(res.status, 200);
    const after = await answers();
    const m = moved(withNew, after);
    assert.deepEqual([...m].sort(), [...held].sort(), 'exactly the inactive edge’s domains move');
    for (const n of m) assert.notEqual(after.get(n), victimIp);
    // They spread over the others rather than piling onto one neighbour.
    assert.ok(
      new Set(m.map((n) => after.get(n))).size >= Math.min(3, m.length),
      'moved domains spread out',
    );

    // Back to active: every domain returns to where it was.
    assert.equal(
      (await api(run, 'PATCH', `/api/v1/nodes/${nodeId(victim)}`, { active: true })).status,
      200,
    );
    assert.deepEqual(moved(withNew, await answers()), []);
  });
});
