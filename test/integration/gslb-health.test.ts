// Health-driven answers end to end: edge nodes are small HTTP servers on 127.0.0.2 … .6,
// probed by the real checker inside the real server. Stopping one moves its domains, and
// only its domains, within fall × interval + 1 s; starting it again brings exactly those
// domains back after `rise` probes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { UdpResolver } from '../helpers/dns-udp.js';
import { Edge, until } from '../helpers/edge-server.js';
import { dig } from '../helpers/dig.js';

const INTERVAL_S = 1;
const FALL = 3;
const RISE = 2;
const DOMAINS = 120;
const MOVE_BOUND_MS = FALL * INTERVAL_S * 1000 + 1000;

describe('health-driven GSLB answers over DNS', () => {
  let run: RunningCirrus;
  let resolver: UdpResolver;
  const edges: Edge[] = [];
  const names: string[] = [];

  const snapshotOfAnswers = async () => {
    const got = await resolver.addresses(names);
    return new Map([...got].map(([n, a]) => [n, a.join(',')]));
  };

  before(async () => {
    for (let i = 2; i <= 6; i++) edges.push(await new Edge(`127.0.0.${i}`).start());
    run = await startCirrus({
      health: {
        probe: {
          type: 'http',
          path: '/healthz',
          intervalSec: INTERVAL_S,
          rise: RISE,
          fall: FALL,
          timeoutMs: 400,
        },
        recheckMs: 200,
      },
    });
    resolver = new UdpResolver(run.dnsPort);
    const nodes = edges.map((e, i) => ({
      id: `edge-${i + 2}`,
      ipv4: e.ip,
      probe: { port: e.port },
    }));
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', nodes)).status, 200);
    for (let i = 0; i < DOMAINS; i++) {
      const r = await api(run, 'POST', '/api/v1/domains', {
        domain: `site${i}.example.org`,
        origins: [{ address: '203.0.113.1' }],
      });
      assert.equal(r.status, 201);
      names.push(r.json.cname);
    }
    // Every edge probed up at least once by this instance.
    await until(
      'all edges probed up',
      async () => {
        const h = await api(run, 'GET', '/api/v1/health');
        return (
          h.json.nodes.length === edges.length &&
          h.json.nodes.every((n: { view: { state: string } | null }) => n.view?.state === 'up')
        );
      },
      8000,
    );
  });
  after(async () => {
    await resolver?.close();
    await run?.stop();
    await Promise.all(edges.map((e) => e.stop()));
  });

  it('moves only the stopped edge’s domains, within fall × interval + 1 s, and brings them back', async (t) => {
    const before = await snapshotOfAnswers();
    const victim = edges[1] as Edge;
    const theirs = names.filter((n) => before.get(n) === victim.ip);
    assert.ok(theirs.length >= 10, `edge ${victim.ip} answers ${theirs.length} domains`);
    assert.ok(
      edges.every((e) => [...before.values()].includes(e.ip)),
      'every edge has domains',
    );

    const t0 = Date.now();
    await victim.stop();
    const moved = await until(
      'domains moved off the stopped edge',
      async () => [...(await snapshotOfAnswers()).values()].every((a) => a !== victim.ip),
      MOVE_BOUND_MS + 3000,
    );
    const tookMs = Date.now() - t0;
    assert.ok(tookMs <= MOVE_BOUND_MS, `answers moved after ${tookMs} ms (bound ${MOVE_BOUND_MS})`);
    void moved;
    t.diagnostic(`answers moved ${tookMs} ms after the edge stopped (bound ${MOVE_BOUND_MS} ms)`);

    const during = await snapshotOfAnswers();
    for (const n of names) {
      if (before.get(n) === victim.ip) assert.notEqual(during.get(n), victim.ip, n);
      else assert.equal(during.get(n), before.get(n), `${n} moved though its edge is up`);
    }

    const node = await api(run, 'GET', `/api/v1/nodes/edge-3`);
    assert.equal(node.json.active, false);
    assert.equal(node.json.health.state, 'down');
    assert.ok(node.json.health.lastError, 'the last error is recorded');
    const metrics = await (await fetch(`${run.apiUrl}/metrics`)).text();
    assert.match(metrics, /cirrus_node_up\{node="edge-3",pool="default"\} 0/);

    // _explain shows the down node in the candidates.
    const ex = await dig(run.dnsPort, [`_explain.${theirs[0]}`, 'TXT']);
    assert.match(ex.answer.join('\n'), /edge-3 down w100/);

    await victim.start();
    const back = await until(
      'domains back on the restarted edge',
      async () => {
        const now = await snapshotOfAnswers();
        return names.every((n) => now.get(n) === before.get(n));
      },
      RISE * INTERVAL_S * 1000 + 3000,
    );
    t.diagnostic(`answers back ${back} ms after the edge restarted`);
  });
});
