// deploy/prometheus and deploy/grafana against Debian's real Prometheus: `promtool` accepts
// the alert rules and passes their unit tests, and Prometheus, scraping a running Cirrus (on Redis, with a secondary
// and a stored certificate) and the nginx + Lua edge after some DNS and HTTP traffic,
// answers every query of every dashboard panel with data through its HTTP query API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { supervise } from '../helpers/child.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { until } from '../helpers/edge-server.js';
import { get, makeCert, startEdge, type RunningEdge } from '../helpers/nginx-edge.js';
import { startNsd, type NsdServer } from '../helpers/nsd.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { nsdConfig } from '../../src/xfr/nsd-config.js';
import { Peers } from '../../src/xfr/peers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

interface Target {
  readonly expr: string;
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly Target[];
}

const dashboard = JSON.parse(
  readFileSync(join(REPO, 'deploy/grafana/dashboards/cirrus.json'), 'utf8'),
) as { uid: string; panels: Panel[] };
const panels = dashboard.panels.filter((p) => p.type !== 'row');

/** A panel query as Grafana sends it: `$__rate_interval` is at least four scrape intervals. */
const promql = (expr: string): string => expr.replaceAll('$__rate_interval', '1m');

describe('Prometheus and Grafana: alert rules, scrape, every dashboard query', () => {
  let dir: string;
  let redis: RedisServer;
  let cirrus: RunningCirrus;
  let edge: RunningEdge;
  let nsd: NsdServer;
  let origin: Server;
  let stopPrometheus: (() => Promise<void>) | undefined;
  let promUrl: string;

  const query = async (
    expr: string,
  ): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-prom-'));
    redis = await startRedis();
    origin = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end('origin\n');
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    const originPort = (origin.address() as AddressInfo).port;
    const closed = await freePort();
    const nsdPort = await freePort();
    const config = {
      seed: { dir: join(REPO, 'zones') },
      store: { redisUrl: redis.url, file: null },
      xfr: {
        keys: [
          {
            name: 'xfr-key',
            algorithm: 'hmac-sha256' as const,
            secret: 'Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtISE=',
          },
        ],
        secondaries: [{ name: 'nsd', address: '127.0.0.1', port: nsdPort, key: 'xfr-key' }],
      },
    };
    // A first run stores a certificate; the second loads its expiry as the issuer does at start.
    const first = await startCirrus(config);
    const cert = makeCert(dir, 'www.example.com');
    const created = await api(first, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '127.0.0.1', port: originPort }],
      cache: { rules: [{ match: '/*', ttl: 60 }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    await api(first, 'POST', '/api/v1/domains', {
      domain: 'down.example.com',
      origins: [{ address: '127.0.0.1', port: closed }],
      breaker: { minRequests: 2, errorRatio: 0.5, openSec: 60 },
    });
    const now = Date.now();
    await first.cirrus.repos.acme.putCertificate('www.example.com', {
      cert: cert.cert,
      key: cert.key,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 2 * 86400_000).toISOString(),
    });
    await first.stop();
    cirrus = await startCirrus(config);
    await api(cirrus, 'PUT', '/api/v1/nodes/edge-prom-1', { ipv4: '192.0.2.60', active: true });
    edge = await startEdge({ redisUrl: redis.url, node: 'edge-prom-1' });
    nsd = await startNsd(
      (_port, serverSettings) =>
        nsdConfig(cirrus.config, new Peers(cirrus.config.xfr, null), {
          secondary: 'nsd',
          master: `127.0.0.1@${cirrus.dnsPort}`,
          serverSettings,
        }),
      nsdPort,
    );

    // Traffic, so the counters have series: DNS over UDP and TCP (one REFUSED), edge hits
    // and misses, a failing origin that opens its breaker, a purge.
    const dig = (args: string[]) =>
      run('dig', ['@127.0.0.1', '-p', String(cirrus.dnsPort), '+time=2', '+tries=1', ...args]);
    for (const subnet of ['8.8.8.0/24', '193.0.6.0/24', '1.1.1.0/24'])
      await dig(['www-example-com.cdn.example.net', 'A', `+subnet=${subnet}`]);
    await dig(['www-example-com.cdn.example.net', 'A', '+tcp']);
    await dig(['example.org', 'A']);
    for (let i = 0; i < 3; i++) await get(edge.http, 'www.example.com', '/a.txt');
    for (let i = 0; i < 4; i++) await get(edge.http, 'down.example.com', '/x');
    const purge = await api(cirrus, 'POST', '/api/v1/purge', {
      urls: ['http://www.example.com/a.txt'],
    });
    assert.equal(purge.status, 202, JSON.stringify(purge.json));

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const api1 = new URL(cirrus.apiUrl);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [ "${join(REPO, 'deploy/prometheus/alerts.yml')}" ]`,
        'scrape_configs:',
        `  - { job_name: cirrus, static_configs: [ { targets: [ "${api1.host}" ] } ] }`,
        `  - { job_name: cirrus-edge, static_configs: [ { targets: [ "127.0.0.1:${edge.admin}" ] } ] }`,
        '',
      ].join('\n'),
    );
    const child = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
    stopPrometheus = supervise(child);
    // The first scrape comes about 5.5 s after start (target discovery's tick); rates need two.
    await until(
      'both jobs scraped twice',
      async () => {
        try {
          const r = await query('count_over_time(up[1m]) >= 2');
          return (r.data?.result.length ?? 0) === 2;
        } catch {
          return false;
        }
      },
      20_000,
    );
  });

  after(async () => {
    await stopPrometheus?.();
    await edge?.stop();
    await nsd?.stop();
    await cirrus?.stop();
    await new Promise((r) => origin?.close(r));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('promtool accepts the alert rules, their unit tests and the compose Prometheus config', async () => {
    const rules = await run('promtool', [
      'check',
      'rules',
      join(REPO, 'deploy/prometheus/alerts.yml'),
    ]);
    assert.match(rules.stdout, /SUCCESS: \d+ rules found/);
    // The rules' own unit tests: each paging alert fires when it should and not before.
    const unit = await run('promtool', [
      'test',
      'rules',
      join(REPO, 'deploy/prometheus/alerts.test.yml'),
    ]);
    assert.match(unit.stdout, /SUCCESS/);
    // The compose file mounts the rules at /etc/prometheus; check the rest of the config.
    const cfg = readFileSync(join(REPO, 'deploy/prometheus/prometheus.yml'), 'utf8').replace(
      '/etc/prometheus/alerts.yml',
      join(REPO, 'deploy/prometheus/alerts.yml'),
    );
    writeFileSync(join(dir, 'compose-prometheus.yml'), cfg);
    const checked = await run('promtool', ['check', 'config', join(dir, 'compose-prometheus.yml')]);
    assert.match(checked.stdout, /SUCCESS/);
  });

  it('Prometheus scrapes Cirrus and the edge', async () => {
    const up = await query('up');
    const jobs = (up.data?.result as { metric: { job: string }; value: [number, string] }[]).map(
      (r) => `${r.metric.job}=${r.value[1]}`,
    );
    assert.deepEqual(jobs.sort(), ['cirrus-edge=1', 'cirrus=1']);
    // The traffic above shows in the series the panels read.
    for (const expr of [
      'sum(cirrus_edge_requests_total{cache="HIT"}) > 0',
      'max(cirrus_edge_breaker_state) == 1',
      'sum(cirrus_edge_purges_total{kind="url"}) > 0',
      'sum(cirrus_dns_queries_total{transport="tcp"}) > 0',
      'min(cirrus_cert_expiry_seconds{domain="www.example.com"}) < 14 * 86400',
    ]) {
      const r = await query(expr);
      assert.equal(r.data?.result.length, 1, expr);
    }
  });

  it('the dashboard covers DNS, GSLB, snapshot, secondaries, ACME and the edge', () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const metric of [
      'cirrus_dns_queries_total',
      'cirrus_dns_truncated_total',
      'cirrus_dns_dropped_total',
      'cirrus_gslb_decisions_total',
      'cirrus_node_up',
      'cirrus_snapshot_builds_total',
      'cirrus_zone_serial',
      'cirrus_snapshot_last_success_timestamp_seconds',
      'cirrus_secondary_lag_seconds',
      'cirrus_notify_total',
      'cirrus_acme_orders_total',
      'cirrus_cert_expiry_seconds',
      'cirrus_edge_requests_total',
      'cirrus_edge_origin_seconds_bucket',
      'cirrus_edge_breaker_state',
      'cirrus_edge_purges_total',
    ])
      assert.ok(exprs.includes(metric), metric);
  });

  for (const panel of panels) {
    it(`panel "${panel.title}": every query parses and the panel shows data`, async () => {
      assert.ok((panel.targets ?? []).length > 0);
      // Series that follow the secondary's transfer may take a few scrapes to appear.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const empty: string[] = [];
        for (const t of panel.targets ?? []) {
          const r = await query(promql(t.expr));
          assert.equal(r.status, 'success', `${t.expr}: ${r.error}`);
          if ((r.data?.result.length ?? 0) === 0) empty.push(t.expr);
        }
        if (empty.length < (panel.targets ?? []).length) break;
        assert.ok(Date.now() < deadline, `no data for ${panel.title}: ${empty.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    });
  }
});
