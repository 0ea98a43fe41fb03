// Health-aware TTLs over DNS: edge nodes are real HTTP servers on loopback, probed by the
// real checker inside the real server. An answer's TTL never outlives the earliest moment
// the health it rests on could flip: sampled every 200 ms (the same query bytes, so most
// samples are answer-cache hits whose TTL is counted down) across an edge going down and
// coming back, every sample's `time + TTL` lands before the answer actually changed (plus
// the 1 s floor), and the TTL never exceeds the domain's. A node added with no health yet
// gives the short unknown-health TTL, and _explain names the bound.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { UdpResolver } from '../helpers/dns-udp.js';
import { Edge, until } from '../helpers/edge-server.js';
import { dig } from '../helpers/dig.js';

const INTERVAL_S = 4;
const RISE = 2;
const FALL = 3;
const RECHECK_MS = 300;
const FLOOR_S = 1;
const UNKNOWN_S = 3;
const DOMAIN_TTL = 60;
/** Time + TTL may pass the flip by the floor (a flip due sooner still gets it) and a little. */
const SLACK_MS = FLOOR_S * 1000 + 300;

interface Sample {
  at: number;
  ttl: number;
  answer: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('health-aware TTLs over DNS', () => {
  let run: RunningCirrus;
  let resolver: UdpResolver;
  const edges: Edge[] = [];
  let name = '';

  const ask = async (): Promise<Sample> => {
    const r = await resolver.query(name);
    assert.equal(r.rcode, 0);
    const a = r.answers.find((x) => x.type === 1);
    assert.ok(a, `${name} has an A record`);
    return { at: Date.now(), ttl: a.ttl, answer: a.data };
  };

  /** Samples every 200 ms until `done` holds for a sample; returns them all. */
  const sampleUntil = async (what: string, done: (s: Sample) => boolean, ms: number) => {
    const out: Sample[] = [];
    const t0 = Date.now();
    for (;;) {
      const s = await ask();
      out.push(s);
      if (done(s)) return out;
      if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
      await sleep(200);
    }
  };

  before(async () => {
    for (const ip of ['127.0.0.31', '127.0.0.32', '127.0.0.33'])
      edges.push(await new Edge(ip).start());
    run = await startCirrus({
      gslb: { ttl: DOMAIN_TTL, healthTtlFloor: FLOOR_S, unknownTtl: UNKNOWN_S },
      health: {
        probe: {
          type: 'http',
          path: '/healthz',
          intervalSec: INTERVAL_S,
          rise: RISE,
          fall: FALL,
          timeoutMs: 500,
        },
        recheckMs: RECHECK_MS,
      },
    });
    resolver = new UdpResolver(run.dnsPort);
    const nodes = edges.slice(0, 2).map((e, i) => ({
      id: `ttl-${i + 1}`,
      ipv4: e.ip,
      probe: { port: e.port },
    }));
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', nodes)).status, 200);
    const r = await api(run, 'POST', '/api/v1/domains', {
      domain: 'ttl.example.org',
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(r.status, 201);
    name = r.json.cname;
    await until(
      'both edges up with a known state',
      async () => {
        const h = await api(run, 'GET', '/api/v1/health');
        return h.json.nodes.every((n: { state: string }) => n.state === 'up');
      },
      4 * INTERVAL_S * 1000,
    );
  });
  after(async () => {
    await resolver?.close();
    await run?.stop();
    await Promise.all(edges.map((e) => e.stop()));
  });

  it('while every node is up, the TTL ends before the earliest possible flip', async () => {
    // Up with no failure: down takes failures on the next tick, its recheck and the tick
    // after, so the flip is at the second tick from now at the earliest.
    for (let i = 0; i < 6; i++) {
      const s = await ask();
      const I = INTERVAL_S * 1000;
      const earliestFlip = (Math.floor(s.at / I) + 2) * I;
      assert.ok(s.ttl >= FLOOR_S && s.ttl <= DOMAIN_TTL, `ttl ${s.ttl}`);
      assert.ok(
        s.at + s.ttl * 1000 <= earliestFlip + 1000,
        `ttl ${s.ttl} at ${s.at % I} ms into a ${I} ms interval outlives the flip`,
      );
      await sleep(700);
    }
    const ex = await dig(run.dnsPort, [`_explain.${name}`, 'TXT']);
    assert.match(ex.answer.join('\n'), /v4 answer .* ttl \d+ \(health: ttl-\d could flip then\)/);
  });

  it('counts the TTL down to the flip while an edge fails, then answers around it', async (t) => {
    const first = await ask();
    const victim = edges.find((e) => e.ip === first.answer) as Edge;
    const other = edges.find((e) => e !== victim && e.ip !== '127.0.0.33') as Edge;
    await victim.stop();
    const down = await sampleUntil(
      'answer moved off the stopped edge',
      (s) => s.answer !== victim.ip,
      4 * INTERVAL_S * 1000,
    );
    const movedAt = (down.at(-1) as Sample).at;
    const onVictim = down.filter((s) => s.answer === victim.ip);
    for (const s of down) assert.ok(s.ttl <= DOMAIN_TTL, `ttl ${s.ttl} above the domain's`);
    for (const s of onVictim)
      assert.ok(
        s.at + s.ttl * 1000 <= movedAt + SLACK_MS,
        `an answer at -${movedAt - s.at} ms with ttl ${s.ttl} outlives the move`,
      );
    const least = Math.min(...onVictim.map((s) => s.ttl));
    assert.ok(least <= 2, `the TTL shrank to ${least} s as the flip neared`);
    const moved = down.at(-1) as Sample;
    assert.equal(moved.answer, other.ip);
    // The stopped node could come back after `rise` ticks: the new answer says so.
    assert.ok(moved.ttl <= RISE * INTERVAL_S, `ttl ${moved.ttl} after the move`);
    const ex = await dig(run.dnsPort, [`_explain.${name}`, 'TXT']);
    assert.match(ex.answer.join('\n'), /ttl \d+ \((health|floor): ttl-\d could flip/);

    await victim.start();
    const up = await sampleUntil(
      'answer back on the restarted edge',
      (s) => s.answer === victim.ip,
      4 * INTERVAL_S * 1000,
    );
    const backAt = (up.at(-1) as Sample).at;
    for (const s of up) assert.ok(s.ttl <= DOMAIN_TTL, `ttl ${s.ttl} above the domain's`);
    for (const s of up.filter((x) => x.answer !== victim.ip))
      assert.ok(
        s.at + s.ttl * 1000 <= backAt + SLACK_MS,
        `an answer at -${backAt - s.at} ms with ttl ${s.ttl} outlives the return`,
      );
    const rows = [...down, ...up].map(
      (s) =>
        `${((s.at - first.at) / 1000).toFixed(1)}s ${s.answer === victim.ip ? 'victim' : 'other '} ttl ${s.ttl}`,
    );
    t.diagnostic(`samples (time since stop, answer, ttl):\n${rows.join('\n')}`);
  });

  it('gives the unknown-health TTL while a new node has no known state', async () => {
    const fresh = edges[2] as Edge;
    assert.equal(
      (
        await api(run, 'PUT', '/api/v1/nodes/ttl-3', {
          ipv4: fresh.ip,
          probe: { port: fresh.port },
        })
      ).status,
      201,
    );
    // Unknown until `rise` probes on the ticks: at least one whole interval from now.
    await until('the new node in the answers’ pool', async () => {
      const ex = await dig(run.dnsPort, [`_explain.${name}`, 'TXT']);
      return ex.answer.join('\n').includes('ttl-3');
    });
    const s = await ask();
    assert.ok(s.ttl <= UNKNOWN_S, `ttl ${s.ttl} while ttl-3 is unknown`);
    const ex = await dig(run.dnsPort, [`_explain.${name}`, 'TXT']);
    assert.match(ex.answer.join('\n'), /ttl \d+ \(unknown health of ttl-3\)/);
  });
});

describe('health-aware TTLs from DNS workers', () => {
  let run: RunningCirrus;
  let resolver: UdpResolver;
  let edge: Edge;
  let name = '';

  before(async () => {
    edge = await new Edge('127.0.0.34').start();
    run = await startCirrus({
      dns: { workers: 1 },
      gslb: { ttl: DOMAIN_TTL, healthTtlFloor: FLOOR_S, unknownTtl: UNKNOWN_S },
      health: {
        probe: { type: 'http', path: '/healthz', intervalSec: INTERVAL_S, rise: RISE, fall: FALL },
        recheckMs: RECHECK_MS,
      },
    });
    resolver = new UdpResolver(run.dnsPort);
    const node = { ipv4: edge.ip, probe: { port: edge.port } };
    assert.equal((await api(run, 'PUT', '/api/v1/nodes/w-1', node)).status, 201);
    const r = await api(run, 'POST', '/api/v1/domains', {
      domain: 'ttlw.example.org',
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(r.status, 201);
    name = r.json.cname;
    await until(
      'the edge up with a known state',
      async () => (await api(run, 'GET', '/api/v1/nodes/w-1')).json.health?.state === 'up',
      4 * INTERVAL_S * 1000,
    );
  });
  after(async () => {
    await resolver?.close();
    await run?.stop();
    await edge?.stop();
  });

  it('a worker answering UDP cuts the TTL like the main process over TCP', async () => {
    // The bounds reach the worker after the round that made the state known: wait for them.
    await until('a health-bounded TTL over UDP', async () => {
      const r = await resolver.query(name);
      const ttl = r.answers[0]?.ttl ?? DOMAIN_TTL;
      return ttl <= 2 * INTERVAL_S && ttl !== UNKNOWN_S;
    });
    const udp = await resolver.query(name);
    const tcp = await dig(run.dnsPort, ['+tcp', '+norec', name, 'A']);
    const tcpTtl = Number(tcp.answer[0]?.split(' ')[1]);
    for (const ttl of [udp.answers[0]?.ttl as number, tcpTtl])
      assert.ok(ttl >= FLOOR_S && ttl <= 2 * INTERVAL_S, `ttl ${ttl}`);
  });
});
