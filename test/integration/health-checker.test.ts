// The health checker against real edge stand-ins: small HTTP, HTTPS and TCP servers bound on
// 127.0.0.2, 127.0.0.3 … (Linux routes all of 127/8 to loopback), the real embedded store,
// and a real redis-server for the multi-instance cases. Intervals are 1 s.
import { after, before, beforeEach, describe, it } from 'node:test';
import { repos } from '../helpers/repos.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { finishConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/store.js';
import type { EdgeNode } from '../../src/model/domain.js';
import { channels } from '../../src/store/keys.js';
import { keys } from '../helpers/repos.js';
import { HealthChecker } from '../../src/health/checker.js';
import { runProbe } from '../../src/health/probe.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { Edge, until, type Handler } from '../helpers/edge-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const edges: Edge[] = [];
async function edge(ip: string, handler?: Handler): Promise<Edge> {
  const e = await new Edge(ip, handler).start();
  edges.push(e);
  return e;
}
after(async () => {
  await Promise.all(edges.map((e) => e.stop()));
});

function testConfig(health: Record<string, unknown> = {}, probe: Record<string, unknown> = {}) {
  return finishConfig(
    {
      store: { file: null },
      seed: { dir: null },
      health: {
        recheckMs: 200,
        lockTtlMs: 1000,
        viewTtlSec: 5,
        ...health,
        probe: { intervalSec: 1, timeoutMs: 400, ...probe },
      },
    },
    'test config',
  );
}

const node = (id: string, e: { ip: string; port: number }, extra: Partial<EdgeNode> = {}) =>
  ({
    id,
    ipv4: e.ip,
    pool: 'default',
    weight: 100,
    active: true,
    ...extra,
    probe: { port: e.port, ...extra.probe },
  }) satisfies EdgeNode;

interface Running {
  checker: HealthChecker;
  store: Store;
  registry: ReturnType<typeof createRegistry>;
}
const running: Array<() => Promise<void>> = [];

async function startChecker(
  config: Config,
  nodes: EdgeNode[],
  opts: { store?: Store; instance?: string; seed?: (s: Store) => Promise<void> } = {},
): Promise<Running> {
  const store = opts.store ?? new EmbeddedStore();
  if (!opts.store) {
    await store.start();
    running.push(() => store.stop());
  }
  for (const n of nodes) await repos(store).nodes.put(n);
  await opts.seed?.(store);
  const registry = createRegistry(false);
  const checker = new HealthChecker({
    config,
    repos: repos(store),
    logger: silentLogger(),
    registry,
    instanceId: opts.instance ?? 'i1',
  });
  running.unshift(() => checker.stop());
  await checker.start();
  return { checker, store, registry };
}
async function stopAll(): Promise<void> {
  for (const stop of running.splice(0)) await stop();
}

const nodeStatus = (r: Running, id: string) => {
  const n = r.checker.status().nodes.find((x) => x.id === id);
  assert.ok(n, `node ${id} in status`);
  return n;
};
const active = async (r: Running, id: string) => (await repos(r.store).nodes.get(id))?.active;

describe('health checker on the embedded store', () => {
  beforeEach(stopAll);
  after(stopAll);

  it('takes a node whose server stops down within fall × interval, and back up after rise', async () => {
    const e = await edge('127.0.0.2');
    const r = await startChecker(testConfig(), [node('edge-1', e)]);
    await until('edge-1 up', () => nodeStatus(r, 'edge-1').state === 'up', 3000);
    assert.equal(await active(r, 'edge-1'), true);

    await e.stop();
    // fall 3 at 1 s with a 200 ms recheck: the next tick, the recheck, one more tick.
    const downIn = await until('edge-1 down', async () => (await active(r, 'edge-1')) === false);
    assert.ok(downIn <= 3 * 1000 + 1000, `down after ${downIn} ms`);
    const s = nodeStatus(r, 'edge-1');
    assert.equal(s.state, 'down');
    assert.match(s.lastError ?? '', /ECONNREFUSED/);
    assert.ok(s.failStreak >= 3);
    assert.ok(s.lastChange);

    await e.start();
    const upIn = await until('edge-1 up again', async () => (await active(r, 'edge-1')) === true);
    assert.ok(upIn <= 2 * 1000 + 1000, `up after ${upIn} ms`);
    assert.equal(nodeStatus(r, 'edge-1').state, 'up');

    const metrics = await r.registry.metrics();
    assert.match(metrics, /cirrus_node_up\{node="edge-1",pool="default"\} 1/);
    assert.match(metrics, /cirrus_health_transitions_total\{to="down"\} 1/);
    assert.match(metrics, /cirrus_health_transitions_total\{to="up"\} 1/);
    assert.match(metrics, /cirrus_probes_total\{result="fail"\} [3-9]/);
    assert.match(metrics, /cirrus_probe_duration_seconds_count\{type="http",result="ok"\} \d/);
  });

  it('checks expected codes, the body, the Host header and the timeout', async () => {
    const code503 = await edge('127.0.0.3', (_q, res) => void res.writeHead(503).end('busy'));
    const code204 = await edge('127.0.0.4', (_q, res) => void res.writeHead(204).end());
    const bodyOk = await edge('127.0.0.5', (_q, res) => res.end('status: ready\n'));
    const bodyBad = await edge('127.0.0.6', (_q, res) => res.end('status: starting\n'));
    const slow = await edge('127.0.0.7', (_q, res) => void setTimeout(() => res.end('ok'), 1500));
    const named = await edge(
      '127.0.0.8',
      (req, res) =>
        void res.writeHead(req.headers.host === 'edge.example.net:' + named.port ? 200 : 421).end(),
    );
    const fast = { rise: 1, fall: 1 };
    const r = await startChecker(testConfig({}, fast), [
      node('code-503', code503),
      node('code-204', code204, { probe: { expect: [200, 204] } }),
      node('body-ok', bodyOk, { probe: { body: 'ready' } }),
      node('body-bad', bodyBad, { probe: { body: 'ready' } }),
      node('slow', slow, { probe: { timeoutMs: 300 } }),
      node('named', named, { probe: { host: 'edge.example.net' } }),
    ]);
    const want: Record<string, [boolean, RegExp | null]> = {
      'code-503': [false, /status 503, expected 200/],
      'code-204': [true, null],
      'body-ok': [true, null],
      'body-bad': [false, /body does not contain "ready"/],
      slow: [false, /timeout after 300 ms/],
      named: [true, null],
    };
    await until('every node decided', () =>
      r.checker.status().nodes.every((n) => n.state !== 'unknown'),
    );
    for (const [id, [up, error]] of Object.entries(want)) {
      const s = nodeStatus(r, id);
      assert.equal(s.state, up ? 'up' : 'down', `${id}: ${s.lastError}`);
      assert.equal(await active(r, id), up, id);
      if (error) assert.match(s.lastError ?? '', error, id);
      assert.equal(s.view?.instance, 'i1');
      assert.ok((s.latencyMs ?? -1) >= 0);
    }
    assert.ok(nodeStatus(r, 'slow').latencyMs! < 1000, 'the timeout bounds the probe');
    assert.equal(code503.hosts[0], `127.0.0.3:${code503.port}`, 'Host defaults to the address');
  });

  it('probes TCP and HTTPS (SNI from host; verification only when asked for)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cirrus-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
          ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'],
          ...['-subj', '/CN=edge.example.net', '-addext', 'subjectAltName=DNS:edge.example.net'],
        ],
        { stdio: 'ignore' },
      );
      const sni: string[] = [];
      const tls = createTlsServer(
        { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
        (req, res) => res.end(`host ${req.headers.host}`),
      );
      tls.on('secureConnection', (s) => sni.push(String(s.servername)));
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.9', () => resolve()));
      const tcp = createTcpServer((s) => s.end());
      await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.10', () => resolve()));
      try {
        const tlsPort = (tls.address() as AddressInfo).port;
        const tcpPort = (tcp.address() as AddressInfo).port;
        const at = (ip: string, port: number) => ({ ip, port });
        const https = { type: 'https', host: 'edge.example.net' } as const;
        const r = await startChecker(testConfig({}, { rise: 1, fall: 1 }), [
          node('tls', at('127.0.0.9', tlsPort), { probe: https }),
          node('tls-verify', at('127.0.0.9', tlsPort), { probe: { ...https, tlsVerify: true } }),
          node('tcp', at('127.0.0.10', tcpPort), { probe: { type: 'tcp' } }),
          node('tcp-closed', at('127.0.0.10', 1), { probe: { type: 'tcp' } }),
        ]);
        await until('every node decided', () =>
          r.checker.status().nodes.every((n) => n.state !== 'unknown'),
        );
        assert.equal(nodeStatus(r, 'tls').state, 'up', String(nodeStatus(r, 'tls').lastError));
        assert.equal(nodeStatus(r, 'tls-verify').state, 'down');
        assert.match(nodeStatus(r, 'tls-verify').lastError ?? '', /self[- ]signed/i);
        assert.equal(nodeStatus(r, 'tcp').state, 'up');
        assert.equal(nodeStatus(r, 'tcp-closed').state, 'down');
        assert.ok(sni.includes('edge.example.net'), `SNI seen: ${sni.join(', ')}`);
        const direct = await runProbe('127.0.0.9', {
          ...testConfig().health.probe,
          ...https,
          port: tlsPort,
          body: `host edge.example.net:${tlsPort}`,
        });
        assert.equal(direct.error, null, 'Host header carries host and port');
      } finally {
        tls.close();
        tcp.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves paused and none nodes alone and keeps probing drained ones', async () => {
    const dead = await edge('127.0.0.11');
    await dead.stop();
    const alive = await edge('127.0.0.12');
    const r = await startChecker(testConfig({}, { rise: 1, fall: 1 }), [
      node('paused', alive, { mode: 'paused', active: false }),
      node('paused-dead', dead, { mode: 'paused' }),
      node('none', dead, { probe: { type: 'none' } }),
      node('drain', dead, { mode: 'drain' }),
      node('auto', alive),
    ]);
    await until('drain and auto decided', () =>
      ['drain', 'auto'].every((id) => nodeStatus(r, id).state !== 'unknown'),
    );
    await sleep(1200);
    assert.equal(nodeStatus(r, 'drain').state, 'down', 'a drained node is still probed');
    assert.equal(await active(r, 'drain'), false);
    assert.equal(await active(r, 'paused'), false, 'paused keeps its last state');
    assert.equal(await active(r, 'paused-dead'), true);
    assert.equal(await active(r, 'none'), true, "probe type 'none': active belongs to the API");
    for (const id of ['paused', 'paused-dead', 'none']) {
      assert.equal(nodeStatus(r, id).probed, false, id);
      assert.equal(nodeStatus(r, id).view, null, id);
    }
    // Only `auto` reached the live server; the paused node on it was never probed.
    assert.ok(alive.hits >= 2, `hits ${alive.hits}`);
    const autoChecks = nodeStatus(r, 'auto').checks;
    assert.ok(alive.hits <= autoChecks + 1, `hits ${alive.hits}, checks ${autoChecks}`);
  });

  it('warm-starts from the stored state: a stored down node needs rise successes, a stored up one never flaps', async () => {
    const e = await edge('127.0.0.13');
    const stored = (state: 'up' | 'down') => ({
      state,
      okStreak: 0,
      failStreak: 0,
      checks: 7,
      failures: 2,
      lastError: null,
      lastChange: '2024-01-01T00:00:00.000Z',
      lastCheck: '2024-01-01T00:00:00.000Z',
    });
    const r = await startChecker(
      testConfig({}, { rise: 3 }),
      [node('was-up', e), node('was-down', e, { active: false })],
      {
        seed: async (s) => {
          await repos(s).nodes.setHealth('was-up', true, stored('up'));
          await repos(s).nodes.setHealth('was-down', false, stored('down'));
        },
      },
    );
    const seen: string[] = [];
    r.store.onChange((c) => seen.push(c.kind));
    await until('first probe recorded', () => nodeStatus(r, 'was-down').view !== null, 3000);
    assert.equal(nodeStatus(r, 'was-up').state, 'up', 'no unknown phase after a restart');
    assert.equal(nodeStatus(r, 'was-down').state, 'down', 'one success is not rise');
    assert.equal(await active(r, 'was-down'), false);
    const upIn = await until('was-down up', async () => (await active(r, 'was-down')) === true);
    assert.ok(upIn >= 1000, `rise 3 at 1 s takes two more ticks, took ${upIn} ms`);
    assert.deepEqual(seen, ['health'], 'one transition: was-down going up');
    const checks = (await repos(r.store).nodes.get('was-up'))?.health?.checks ?? 0;
    assert.ok(checks >= 7 + 3, `counters go on from the stored 7: ${checks}`);
  });

  it("startup 'down' holds a new node down until it has risen", async () => {
    const e = await edge('127.0.0.14');
    const r = await startChecker(testConfig({ startup: 'down' }), [node('new', e)]);
    await until('first view', () => nodeStatus(r, 'new').view !== null, 3000);
    assert.equal(await active(r, 'new'), false, 'down before rise successes');
    await until('new up', async () => (await active(r, 'new')) === true, 3000);
  });

  it('follows nodes added, changed and removed in the store', async () => {
    const a = await edge('127.0.0.15');
    const b = await edge('127.0.0.16');
    const r = await startChecker(testConfig({}, { rise: 1, fall: 1 }), [node('a', a)]);
    await until('a up', () => nodeStatus(r, 'a').state === 'up', 3000);
    await repos(r.store).nodes.put(node('b', b));
    await until('b probed', () => r.checker.status().nodes.some((n) => n.id === 'b' && n.view));
    await b.stop();
    await repos(r.store).nodes.put(node('b', b, { pool: 'eu', probe: { timeoutMs: 200 } }));
    await until('b down', async () => (await active(r, 'b')) === false);
    assert.match(await r.registry.metrics(), /cirrus_node_up\{node="b",pool="eu"\} 0/);
    await repos(r.store).nodes.delete('a');
    await until('a gone', () => r.checker.status().nodes.every((n) => n.id !== 'a'));
    assert.doesNotMatch(await r.registry.metrics(), /node="a"/);
  });

  it('stops twice, and after a failed start', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1' });
    const checker = new HealthChecker({
      config: testConfig(),
      repos: repos(store),
      logger: silentLogger(),
      registry: createRegistry(false),
      instanceId: 'x',
    });
    await assert.rejects(checker.start(), /not started/);
    await checker.stop();
    await checker.stop();
    assert.equal(checker.status().running, false);

    const r = await startChecker(testConfig(), []);
    await r.checker.stop();
    await r.checker.stop();
    const off = new HealthChecker({
      config: testConfig({ enabled: false }),
      repos: repos(r.store),
      logger: silentLogger(),
      registry: createRegistry(false),
      instanceId: 'off',
    });
    await off.start();
    assert.deepEqual(off.status().nodes, []);
    await off.stop();
  });
});

describe('two checkers on one redis-server', () => {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    await stopAll();
    await admin?.quit();
    await server?.stop();
  });

  async function redisStore(): Promise<RedisStore> {
    const s = new RedisStore({ url: server!.url });
    await s.start();
    running.push(() => s.stop());
    return s;
  }

  it('records a view per instance, elects one leader, and lets the quorum decide', async () => {
    await admin!.flushdb();
    // The instances probe different paths: a sees the node up, b sees it down.
    let failing = new Set(['/b']);
    const e = await edge(
      '127.0.0.20',
      (req, res) => void res.writeHead(failing.has(req.url ?? '') ? 503 : 200).end(),
    );
    const fast = { rise: 1, fall: 1 };
    const sa = await redisStore();
    const sb = await redisStore();
    const a = await startChecker(
      testConfig({ quorum: 'majority' }, { ...fast, path: '/a' }),
      [node('edge-1', e)],
      { store: sa, instance: 'gslb-a' },
    );
    const b = await startChecker(testConfig({ quorum: 'majority' }, { ...fast, path: '/b' }), [], {
      store: sb,
      instance: 'gslb-b',
    });

    await until('both views', async () => (await admin!.keys('cdn:health:edge-1:*')).length === 2);
    const views = await repos(sa).health.loadViews(['edge-1']);
    const byInstance = Object.fromEntries((views.get('edge-1') ?? []).map((v) => [v.instance, v]));
    assert.equal(byInstance['gslb-a']?.state, 'up');
    assert.equal(byInstance['gslb-b']?.state, 'down');
    assert.match(byInstance['gslb-b']?.lastError ?? '', /status 503/);

    const leaders = [a, b].filter((r) => r.checker.status().leader);
    assert.equal(leaders.length, 1, 'exactly one leader');
    assert.equal(await admin!.get(keys.lock('health')), leaders[0]!.checker.status().instance);

    // One of two views down is no majority: the node stays active.
    await sleep(1200);
    assert.equal(await active(a, 'edge-1'), true);

    // Both down → down, and the flip is published for every instance to rebuild.
    const sub = new Redis(server!.url);
    try {
      await sub.subscribe(channels.dirty);
      const published = new Promise<string>((resolve) =>
        sub.once('message', (_c, m) => resolve(m)),
      );
      failing = new Set(['/a', '/b']);
      await until('edge-1 down', async () => (await active(b, 'edge-1')) === false);
      assert.equal(JSON.parse(await published).kind, 'health');
    } finally {
      sub.disconnect();
    }
    await until('b learns of the flip', () => nodeStatus(b, 'edge-1').active === false);

    // The leader stops: the other instance takes the lock over and keeps deciding.
    const [leader, other] = a.checker.status().leader ? [a, b] : [b, a];
    await leader.checker.stop();
    await until('failover', () => other.checker.status().leader, 3000);
    failing = new Set();
    await until(
      'edge-1 up via the new leader',
      async () => (await active(other, 'edge-1')) === true,
    );
  });

  it('a quorum of 1 takes a node down on one instance’s say', async () => {
    await stopAll();
    await admin!.flushdb();
    const e = await edge(
      '127.0.0.21',
      (req, res) => void res.writeHead(req.url === '/b' ? 503 : 200).end(),
    );
    const fast = { rise: 1, fall: 1 };
    const sa = await redisStore();
    const sb = await redisStore();
    const a = await startChecker(
      testConfig({ quorum: 1 }, { ...fast, path: '/a' }),
      [node('edge-2', e)],
      {
        store: sa,
        instance: 'gslb-a',
      },
    );
    await startChecker(testConfig({ quorum: 1 }, { ...fast, path: '/b' }), [], {
      store: sb,
      instance: 'gslb-b',
    });
    await until('edge-2 down', async () => (await active(a, 'edge-2')) === false);
    const h = (await repos(sa).nodes.get('edge-2'))?.health;
    assert.equal(h?.state, 'down');
    assert.deepEqual(await admin!.hmget(keys.node('edge-2'), 'active', 'state'), ['0', 'down']);
  });
});
