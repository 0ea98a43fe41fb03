// Richer health checks against real servers on loopback (127.0.0.30 … .39): request method
// and headers, accepted status sets, body regex and JSON-path assertions, a TLS server whose
// certificate (made by openssl, -days 2) expires inside the threshold, TCP; then the checker:
// identical checks share one probe per round, a per-target budget bounds the probes in flight
// to one address, a node added to the store is probed at once; bad specs are refused naming
// the field.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishConfig } from '../../src/config/load.js';
import type { Config, ProbeSpec } from '../../src/config/schema.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { EdgeNode } from '../../src/model/domain.js';
import { HealthChecker } from '../../src/health/checker.js';
import { runProbe, certExpiryProblem } from '../../src/health/probe.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import { ConfigError } from '../../src/lib/errors.js';
import { repos } from '../helpers/repos.js';
import { Edge, until, type Handler } from '../helpers/edge-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(health: Record<string, unknown> = {}, probe: Record<string, unknown> = {}): Config {
  return finishConfig(
    {
      store: { file: null },
      seed: { dir: null },
      health: {
        recheckMs: 0,
        lockTtlMs: 1000,
        viewTtlSec: 5,
        ...health,
        probe: { intervalSec: 1, timeoutMs: 1500, ...probe },
      },
    },
    'test config',
  );
}
const spec = (over: Partial<ProbeSpec>): ProbeSpec => ({ ...config().health.probe, ...over });

const edges: Edge[] = [];
async function edge(ip: string, handler?: Handler): Promise<Edge> {
  const e = await new Edge(ip, handler).start();
  edges.push(e);
  return e;
}
after(async () => {
  await Promise.all(edges.map((e) => e.stop()));
});

describe('probe kinds against real servers', () => {
  it('sends the method and headers, accepts a status set', async () => {
    const seen: { method: string; token: string | undefined; ua: string | undefined }[] = [];
    const e = await edge('127.0.0.30', (req, res) => {
      seen.push({
        method: req.method ?? '',
        token: req.headers['x-probe-token'] as string | undefined,
        ua: req.headers['user-agent'],
      });
      res.writeHead(req.headers['x-probe-token'] === 's3cret' ? 418 : 401).end('teapot');
    });
    const at = { port: e.port };
    const ok = await runProbe(
      e.ip,
      spec({ ...at, method: 'POST', headers: { 'X-Probe-Token': 's3cret' }, expect: [200, 418] }),
    );
    assert.equal(ok.error, null);
    assert.deepEqual(seen.at(-1), { method: 'POST', token: 's3cret', ua: 'cirrus-gslb-health/1' });
    const head = await runProbe(e.ip, spec({ ...at, method: 'HEAD', expect: [418] }));
    assert.match(head.error ?? '', /status 401, expected 418/);
    assert.equal(seen.at(-1)?.method, 'HEAD');
    const notInSet = await runProbe(e.ip, spec({ ...at, headers: { 'x-probe-token': 's3cret' } }));
    assert.match(notInSet.error ?? '', /status 418, expected 200/);
  });

  it('matches a body regex and a JSON-path assertion', async () => {
    const e = await edge('127.0.0.31', (req, res) => {
      if (req.url === '/text') return void res.end('build 4711 ready\n');
      if (req.url === '/bad-json') return void res.end('{"status": ');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: { ready: true, checks: [{ name: 'db', ok: 'yes' }] } }));
    });
    const at = { port: e.port };
    const cases: [Partial<ProbeSpec>, RegExp | null][] = [
      [{ path: '/text', bodyRegex: '^build \\d+ ready$' }, /does not match/],
      [{ path: '/text', bodyRegex: 'build \\d+ ready' }, null],
      [{ path: '/text', bodyRegex: 'build \\d+ (starting|stopped)' }, /does not match/],
      [{ path: '/j', json: { path: '$.status.ready', equals: true } }, null],
      [{ path: '/j', json: { path: '$.status.checks[0].ok', equals: 'yes' } }, null],
      [{ path: '/j', json: { path: '$["status"].checks[0]["name"]', equals: 'db' } }, null],
      [
        { path: '/j', json: { path: '$.status.ready', equals: 'true' } },
        /is true, expected "true"/,
      ],
      [{ path: '/j', json: { path: '$.status.checks[1].ok', equals: 'yes' } }, /not found/],
      [{ path: '/bad-json', json: { path: '$.status', equals: 'ok' } }, /not JSON/],
      [{ path: '/j', json: { path: '$.status.ready', equals: true }, bodyRegex: 'ready' }, null],
    ];
    for (const [over, error] of cases) {
      const r = await runProbe(e.ip, spec({ ...at, ...over }));
      if (error) assert.match(r.error ?? '(passed)', error, JSON.stringify(over));
      else assert.equal(r.error, null, JSON.stringify(over));
    }
  });

  describe('TLS certificate expiry (openssl req -x509 -days 2)', () => {
    let dir: string;
    let tls: TlsServer;
    let port: number;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cirrus-expiry-'));
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
          ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2'],
          ...['-subj', '/CN=edge.example.net', '-addext', 'subjectAltName=DNS:edge.example.net'],
        ],
        { stdio: 'ignore' },
      );
      tls = createTlsServer(
        { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
        (_req, res) => res.end('ok'),
      );
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.32', () => resolve()));
      port = (tls.address() as AddressInfo).port;
    });
    after(() => {
      tls?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('fails within the threshold (down), passes with a warning (warn), passes beyond it', async () => {
      const base = { type: 'https' as const, host: 'edge.example.net', port };
      const down = await runProbe('127.0.0.32', spec({ ...base, certExpiryDays: 7 }));
      assert.equal(down.ok, false);
      assert.match(down.error ?? '', /certificate expires in [12]\.\d days .* within 7/);
      const warn = await runProbe(
        '127.0.0.32',
        spec({ ...base, certExpiryDays: 7, certExpiry: 'warn' }),
      );
      assert.equal(warn.ok, true);
      assert.match(warn.warning ?? '', /certificate expires in/);
      const fine = await runProbe('127.0.0.32', spec({ ...base, certExpiryDays: 1 }));
      assert.equal(fine.error, null);
      assert.equal(fine.warning, null);
      const off = await runProbe('127.0.0.32', spec(base));
      assert.equal(off.error, null);
    });

    it('a per-node override turns the check on for that node only', async () => {
      const store = new EmbeddedStore();
      await store.start();
      const base = { type: 'https' as const, host: 'edge.example.net', port };
      const nodes: EdgeNode[] = [
        { id: 'plain', ipv4: '127.0.0.32', pool: 'p', weight: 100, active: true, probe: base },
        {
          id: 'strict',
          ipv4: '127.0.0.32',
          pool: 'p',
          weight: 100,
          active: true,
          probe: { ...base, certExpiryDays: 30 },
        },
      ];
      for (const n of nodes) await repos(store).nodes.put(n);
      const checker = new HealthChecker({
        config: config({}, { rise: 1, fall: 1 }),
        repos: repos(store),
        logger: silentLogger(),
        registry: createRegistry(false),
        instanceId: 'i1',
      });
      await checker.start();
      try {
        const st = (id: string) => checker.status().nodes.find((n) => n.id === id);
        await until(
          'both decided',
          () => st('plain')?.state !== 'unknown' && st('strict')?.state !== 'unknown',
        );
        assert.equal(st('plain')?.state, 'up');
        assert.equal(st('strict')?.state, 'down');
        assert.match(st('strict')?.lastError ?? '', /certificate expires in/);
      } finally {
        await checker.stop();
        await store.stop();
      }
    });
  });

  it('connects over TCP', async () => {
    const tcp: Server = createTcpServer((s) => s.end());
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.33', () => resolve()));
    try {
      const port = (tcp.address() as AddressInfo).port;
      assert.equal((await runProbe('127.0.0.33', spec({ type: 'tcp', port }))).error, null);
      tcp.close();
      await sleep(50);
      assert.match(
        (await runProbe('127.0.0.33', spec({ type: 'tcp', port }))).error ?? '',
        /ECONNREFUSED/,
      );
    } finally {
      tcp.close();
    }
  });

  it('judges expiry by the dates', () => {
    const now = Date.parse('2026-12-03T00:00:00Z');
    assert.equal(certExpiryProblem('Dec 20 00:00:00 2026 GMT', 7, now), null);
    assert.match(certExpiryProblem('Dec  5 00:00:00 2026 GMT', 7, now) ?? '', /in 2\.0 days/);
    assert.match(certExpiryProblem('Dec  1 00:00:00 2026 GMT', 7, now) ?? '', /expired at/);
    assert.equal(certExpiryProblem('Dec  1 00:00:00 2026 GMT', null, now), null);
  });
});

describe('the checker: shared probes, per-target budget, new nodes', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  async function start(cfg: Config, nodes: EdgeNode[]) {
    const store = new EmbeddedStore();
    await store.start();
    for (const n of nodes) await repos(store).nodes.put(n);
    const registry = createRegistry(false);
    const checker = new HealthChecker({
      config: cfg,
      repos: repos(store),
      logger: silentLogger(),
      registry,
      instanceId: 'i1',
    });
    stops.push(() => store.stop());
    stops.unshift(() => checker.stop());
    await checker.start();
    return { checker, store, registry };
  }
  const n = (id: string, e: Edge, probe: Record<string, unknown> = {}): EdgeNode => ({
    id,
    ipv4: e.ip,
    pool: 'p',
    weight: 100,
    active: true,
    probe: { port: e.port, ...probe },
  });

  it('probes one target once per round however many nodes share the check', async () => {
    const e = await edge('127.0.0.34');
    // Three nodes, same address and check (rise/fall differ: each keeps its own hysteresis),
    // and one with another path: two probes per round.
    const r = await start(config({}, { rise: 1, fall: 1 }), [
      n('a', e),
      n('b', e, { rise: 2 }),
      n('c', e, { fall: 3 }),
      n('other', e, { path: '/other' }),
    ]);
    const checks = () => r.checker.status().nodes.find((x) => x.id === 'a')?.view?.lastCheck;
    await until('first round', () => checks() !== undefined);
    const hits0 = e.hits;
    const rounds0 = (await repos(r.store).nodes.get('a'))?.health?.checks ?? 0;
    await sleep(3200);
    const rounds = ((await repos(r.store).nodes.get('a'))?.health?.checks ?? 0) - rounds0;
    const hits = e.hits - hits0;
    assert.ok(rounds >= 2, `rounds ${rounds}`);
    assert.ok(
      hits <= 2 * rounds + 2 && hits >= 2 * rounds - 2,
      `${hits} hits for ${rounds} rounds`,
    );
    for (const id of ['a', 'b', 'c'])
      assert.equal(r.checker.status().nodes.find((x) => x.id === id)?.state, 'up', id);
    assert.match(await r.registry.metrics(), /cirrus_probes_shared_total [1-9]/);
  });

  it('keeps at most health.perTarget probes in flight to one address', async () => {
    let inFlight = 0;
    let most = 0;
    const e = await edge('127.0.0.35', (_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 300);
    });
    const other = await edge('127.0.0.36', (_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 300);
    });
    const nodes = [1, 2, 3, 4, 5, 6].map((i) => n(`slow-${i}`, e, { path: `/p${i}` }));
    const r = await start(config({ perTarget: 2 }, { rise: 1, fall: 1, intervalSec: 5 }), nodes);
    await until('all six probed', () => r.checker.status().nodes.every((x) => x.view), 5000);
    assert.equal(most, 2, `most probes in flight to one address: ${most}`);
    // Another address has its own budget: two targets, four at once.
    most = 0;
    for (const i of [1, 2, 3, 4])
      await repos(r.store).nodes.put(n(`o-${i}`, other, { path: `/o${i}` }));
    for (const i of [7, 8, 9, 10])
      await repos(r.store).nodes.put(n(`slow-${i}`, e, { path: `/p${i}` }));
    await until('new ones probed', () => r.checker.status().nodes.every((x) => x.view), 5000);
    assert.ok(most <= 4, `at most 2 per target: ${most}`);
  });

  it('probes a node new to the store at once, not at its next interval', async () => {
    const e = await edge('127.0.0.37');
    const r = await start(config({}, { rise: 1, fall: 1, intervalSec: 60 }), [n('old', e)]);
    await until('old probed', () => r.checker.status().nodes.some((x) => x.view));
    const t0 = Date.now();
    await repos(r.store).nodes.put(n('new', e, { path: '/new' }));
    await until(
      'new probed',
      () => r.checker.status().nodes.find((x) => x.id === 'new')?.view != null,
      3000,
    );
    assert.ok(Date.now() - t0 < 3000, 'well before the 60 s interval');
    assert.equal(r.checker.status().nodes.find((x) => x.id === 'new')?.state, 'up');
  });
});

describe('bad probe specs name the field', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus();
  });
  after(async () => {
    await run?.stop();
  });

  it('the config file', () => {
    const bad = (probe: Record<string, unknown>) => {
      try {
        finishConfig({ store: { file: null }, seed: { dir: null }, health: { probe } }, 'c');
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return { field: (err as ConfigError).field, message: err.message };
      }
      assert.fail('accepted');
    };
    assert.equal(bad({ bodyRegex: '(unclosed' }).field, 'health.probe.bodyRegex');
    assert.equal(bad({ json: { path: 'status', equals: 1 } }).field, 'health.probe.json.path');
    assert.equal(bad({ method: 'DELETE' }).field, 'health.probe.method');
    assert.equal(bad({ certExpiryDays: -1 }).field, 'health.probe.certExpiryDays');
    assert.equal(bad({ headers: { 'bad header': 'x' } }).field, 'health.probe.headers.bad header');
  });

  it('the API answers 400 naming it', async () => {
    const put = (probe: Record<string, unknown>) =>
      api(run, 'PUT', '/api/v1/nodes/n1', { ipv4: '192.0.2.1', probe });
    const a = await put({ bodyRegex: '[a-' });
    assert.equal(a.status, 400);
    assert.match(a.json.message, /probe\.bodyRegex is not a regular expression/);
    const b = await put({ json: { path: '$.a[x]', equals: 1 } });
    assert.equal(b.status, 400);
    assert.match(b.json.message, /probe\.json\.path "\$\.a\[x\]": unexpected "\[x\]"/);
    const c = await put({ json: { path: '$.a', equals: { nested: 1 } } });
    assert.equal(c.status, 400);
    assert.match(c.json.message, /probe\/json|probe\.json/);
    const ok = await put({ json: { path: '$.a[0]', equals: 1 }, headers: { 'X-A': 'b' } });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.deepEqual(ok.json.probe.json, { path: '$.a[0]', equals: 1 });
  });
});
