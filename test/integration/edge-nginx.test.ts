// The edge (edge/: nginx + Lua) against a real redis-server, a real Cirrus writing the
// domains, and small origins on loopback: Host and SNI routing, certificate rotation without
// reload, cache HIT/MISS/STALE, key normalisation, negative caching, Range, failover and the
// breaker, node modifiers, purge through the API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { get, makeCert, startEdge, type RunningEdge } from '../helpers/nginx-edge.js';
import { until } from '../helpers/edge-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NODE = 'edge-test-1';

/** A loopback origin: counts requests, remembers the last one, answers as `mode` says. */
class Origin {
  hits = 0;
  last: IncomingMessage | undefined;
  mode: 'ok' | 'fail' = 'ok';
  port = 0;
  server: Server | undefined;
  constructor(readonly name: string) {}
  handle = (req: IncomingMessage, res: ServerResponse) => {
    this.hits++;
    this.last = req;
    if (this.mode === 'fail') {
      res.writeHead(500, { 'content-length': 4 });
      res.end('boom');
      return;
    }
    if (req.url?.startsWith('/slow/')) {
      const hit = this.hits;
      setTimeout(() => this.reply(req, res, hit), 300);
      return;
    }
    this.reply(req, res, this.hits);
  };
  reply(req: IncomingMessage, res: ServerResponse, hit: number) {
    const status = /\/(404|403|410)/.exec(req.url ?? '')?.[1];
    const body = `${this.name} ${hit} ${req.url} 0123456789abcdef`;
    res.writeHead(status ? Number(status) : 200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }
  async start(tls?: { cert: string; key: string }): Promise<this> {
    const server = tls ? createHttpsServer(tls, this.handle) : createServer(this.handle);
    server.keepAliveTimeout = 100;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }
  async stop() {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('edge: nginx + Lua configured through Redis', () => {
  let redis: RedisServer;
  let cirrus: RunningCirrus;
  let edge: RunningEdge;
  let r: Redis;
  let dir: string;
  let ca: { cert: string; key: string; certFile: string };
  const o1 = new Origin('o1');
  const o2 = new Origin('o2');
  const backup = new Origin('backup');
  const flaky = new Origin('flaky');
  const secure = new Origin('secure');
  const primary = new Origin('primary');
  const lone = new Origin('lone');
  let lonePrimedAt = 0;
  const edgeCerts: Record<string, { cert: string; key: string }> = {};

  const origin = (o: Origin, extra: object = {}) => ({
    address: '127.0.0.1',
    port: o.port,
    ...extra,
  });
  const domain = async (name: string, body: object) => {
    const res = await api(cirrus, 'POST', '/api/v1/domains', { domain: name, ...body });
    assert.equal(res.status, 201, JSON.stringify(res.json));
  };
  const h = (host: string, path: string, headers: Record<string, string> = {}) =>
    get(edge.http, host, path, headers);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-edge-test-'));
    ca = makeCert(dir, 'origin-test-ca');
    const secureCert = makeCert(dir, 'secure.test', ca);
    redis = await startRedis();
    r = new Redis(redis.url);
    await Promise.all([o1, o2, backup, flaky, primary, lone].map((o) => o.start()));
    await secure.start(secureCert);
    cirrus = await startCirrus({ store: { redisUrl: redis.url, file: null } });
    const closed = 1; // a port nobody listens on: connection refused
    await domain('a.test', { origins: [origin(o1)] });
    await domain('k.test', {
      origins: [origin(o1)],
      cache: { paths: ['/k/*'], keyParams: ['v'], negativeTtl: 30 },
    });
    await domain('f.test', {
      origins: [
        { address: '127.0.0.1', port: closed, weight: 1000 },
        origin(flaky, { weight: 1000 }),
        origin(o2, { weight: 1 }),
      ],
      breaker: { minRequests: 3, errorRatio: 0.5, openSec: 1 },
    });
    await domain('b.test', {
      origins: [origin(primary), origin(backup, { backup: true })],
      breaker: { minRequests: 2, errorRatio: 0.5, openSec: 1 },
    });
    await domain('st.test', {
      origins: [origin(o2)],
      cache: { rules: [{ match: '/live/*', ttl: 1 }] },
    });
    await domain('secure.test', { origins: [origin(secure, { protocol: 'https' })] });
    await domain('wrongname.test', { origins: [origin(secure, { protocol: 'https' })] });
    for (const name of ['a.test', 'secure.test']) {
      edgeCerts[name] = makeCert(dir, name);
      await r.hset(`cdn:cert:${name}`, { cert: edgeCerts[name].cert, key: edgeCerts[name].key });
    }
    await api(cirrus, 'PUT', `/api/v1/nodes/${NODE}`, { ipv4: '192.0.2.50', active: true });
    const caFile = join(dir, 'origin-ca.pem');
    writeFileSync(caFile, ca.cert);
    await domain('lone.test', {
      origins: [origin(lone)],
      cache: { rules: [{ match: '/v/*', ttl: 1 }] },
      breaker: { minRequests: 2, openSec: 30 },
    });
    const zone = cirrus.config.zone.name;
    const records = await api(
      cirrus,
      'PUT',
      '/api/v1/zone/records',
      `origin-a.${zone}. 30 IN A 127.0.0.1\n`,
    );
    assert.equal(records.status, 200, JSON.stringify(records.json));
    await domain('named.test', { origins: [{ address: `origin-a.${zone}`, port: o1.port }] });
    edge = await startEdge({
      redisUrl: redis.url,
      node: NODE,
      originCa: caFile,
      resolver: `127.0.0.1:${cirrus.dnsPort}`,
      env: { EDGE_CONFIG_TTL: '1' },
    });
    // Primed now, expired by the time the breaker test runs (validity is in whole seconds).
    assert.equal((await h('lone.test', '/v/clip.ts')).headers['x-cache-status'], 'MISS');
    lonePrimedAt = Date.now();
  });

  after(async () => {
    await edge?.stop();
    await cirrus?.stop();
    r?.disconnect();
    await Promise.all([o1, o2, backup, flaky, secure, primary, lone].map((o) => o.stop()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes by Host with the Host kept, marks X-CDN-Node, and answers 404 for unknown hosts', async () => {
    const res = await h('a.test', '/page');
    assert.equal(res.status, 200);
    assert.match(res.body, /^o1 /);
    assert.equal(o1.last?.headers.host, 'a.test');
    assert.equal(res.headers['x-cdn-node'], NODE);
    assert.equal(res.headers['x-cache-status'], 'BYPASS', 'an HTML page is not cached by default');
    const unknown = await h('nobody.test', '/');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /unknown host: nobody\.test/);
    assert.equal((await h('192.0.2.50', '/healthz')).status, 200, 'probes on the node address');
  });

  it('applies a domain change within a second, without a reload', async () => {
    await h('a.test', '/before-change');
    const res = await api(cirrus, 'PATCH', '/api/v1/domains/a.test', { origins: [origin(o2)] });
    assert.ok(res.status === 200 || res.status === 404, `PATCH: ${res.status}`);
    if (res.status === 404) {
      // No PATCH route: PUT replaces the whole config.
      const put = await api(cirrus, 'PUT', '/api/v1/domains/a.test', { origins: [origin(o2)] });
      assert.equal(put.status, 200, JSON.stringify(put.json));
    }
    const ms = await until(
      'a.test served by o2',
      async () => /^o2 /.test((await h('a.test', '/after')).body),
      1000,
    );
    assert.ok(ms < 1000);
    await api(cirrus, 'PUT', '/api/v1/domains/a.test', { origins: [origin(o1)] });
    await until('a.test back on o1', async () => /^o1 /.test((await h('a.test', '/x')).body), 1000);
  });

  it('serves the certificate of each SNI name from Redis, 421 for a mismatching Host', async () => {
    const res = await get(edge.https, 'a.test', '/tls', {}, { ca: edgeCerts['a.test']!.cert });
    assert.equal(res.status, 200);
    assert.equal(res.peerCn, 'a.test');
    const mis = await get(
      edge.https,
      'secure.test',
      '/',
      {},
      { servername: 'a.test', ca: edgeCerts['a.test']!.cert },
    );
    assert.equal(mis.status, 421);
    const nocert = await get(edge.https, 'k.test', '/', {}, {});
    assert.equal(nocert.status, 421, 'a domain without a certificate');
    assert.equal(nocert.peerCn, 'cirrus-edge.invalid');
  });

  it('uses a renewed certificate without a reload (cdn:cert:updated)', async () => {
    const renewed = makeCert(dir, 'a.test');
    await r.hset('cdn:cert:a.test', {
      cert: renewed.cert,
      key: renewed.key,
      issued_at: new Date().toISOString(),
    });
    await r.publish('cdn:cert:updated', 'a.test');
    await until(
      'renewed certificate served',
      async () => {
        const res = await get(edge.https, 'a.test', '/tls', {}, { ca: renewed.cert }).catch(
          () => null,
        );
        return res?.status === 200;
      },
      1000,
    );
  });

  it('caches static paths: MISS then HIT, one origin fetch', async () => {
    const before = o1.hits;
    const a = await h('a.test', '/static/app.css');
    const b = await h('a.test', '/static/app.css');
    assert.equal(a.headers['x-cache-status'], 'MISS');
    assert.equal(b.headers['x-cache-status'], 'HIT');
    assert.equal(b.body, a.body);
    assert.equal(o1.hits - before, 1);
  });

  it('normalises the cache key: drops utm_* and rnd by default, keeps only keyParams when named', async () => {
    const first = await h('a.test', '/img/logo.png?utm_source=mail&x=1');
    assert.equal(first.headers['x-cache-status'], 'MISS');
    const same = await h('a.test', '/img/logo.png?x=1&rnd=42&utm_campaign=z');
    assert.equal(same.headers['x-cache-status'], 'HIT');
    const other = await h('a.test', '/img/logo.png?x=2');
    assert.equal(other.headers['x-cache-status'], 'MISS');

    await h('k.test', '/k/seg?v=3&session=abc');
    assert.equal((await h('k.test', '/k/seg?session=zzz&v=3')).headers['x-cache-status'], 'HIT');
    assert.equal((await h('k.test', '/k/seg?v=4')).headers['x-cache-status'], 'MISS');
  });

  it('caches 404 for negativeTtl, not 500', async () => {
    const a = await h('k.test', '/k/404-missing');
    const b = await h('k.test', '/k/404-missing');
    assert.equal(a.status, 404);
    assert.deepEqual([a.headers['x-cache-status'], b.headers['x-cache-status']], ['MISS', 'HIT']);
  });

  it('serves a Range from the cached whole object', async () => {
    const before = o1.hits;
    const full = await h('a.test', '/static/video.js');
    const part = await h('a.test', '/static/video.js', { range: 'bytes=3-7' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['x-cache-status'], 'HIT');
    assert.equal(part.body, full.body.slice(3, 8));
    assert.match(
      String(part.headers['content-range']),
      new RegExp(`^bytes 3-7/${full.body.length}$`),
    );
    const miss = await h('a.test', '/static/other.js', { range: 'bytes=0-1' });
    assert.equal(miss.status, 206);
    assert.equal(miss.body, 'o1');
    assert.equal(o1.last?.headers.range, undefined, 'the origin is asked for the whole object');
    assert.equal(o1.hits - before, 2);
  });

  it('serves stale content when the origin fails after expiry (stale-if-error)', async () => {
    o2.mode = 'ok';
    const a = await h('st.test', '/live/index.m3u8');
    assert.equal(a.headers['x-cache-status'], 'MISS');
    await sleep(2100); // nginx keeps cache validity in whole seconds
    o2.mode = 'fail';
    const b = await h('st.test', '/live/index.m3u8');
    o2.mode = 'ok';
    assert.equal(b.status, 200);
    assert.equal(b.headers['x-cache-status'], 'STALE');
    assert.equal(b.body, a.body);
    // Origin back: the next request still gets the stale copy at once while one background
    // request refreshes it; then the fresh copy is a HIT. The refresh b's request started in
    // the background may reach the origin only after it is back (o2.mode is set just after
    // b's reply): then c is already a HIT of the fresh copy, never an error.
    const c = await h('st.test', '/live/index.m3u8');
    assert.equal(c.status, 200);
    if (c.headers['x-cache-status'] === 'HIT') assert.notEqual(c.body, a.body, 'a HIT is fresh');
    else {
      assert.match(String(c.headers['x-cache-status']), /^(STALE|UPDATING)$/);
      assert.equal(c.body, a.body);
    }
    await until(
      'refreshed in the background',
      async () => {
        const d = await h('st.test', '/live/index.m3u8');
        return d.headers['x-cache-status'] === 'HIT' && d.body !== a.body;
      },
      // Generous: the refresh is one background request, slow only on a busy machine.
      5000,
    );
  });

  it('fetches a key once for concurrent misses (cache lock)', async () => {
    const before = o1.hits;
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => h('a.test', '/slow/once.js')),
    );
    assert.ok(replies.every((x) => x.status === 200 && x.body === replies[0]!.body));
    assert.equal(o1.hits - before, 1);
  });

  it('fails over to the next origin on connect errors and 5xx', async () => {
    flaky.mode = 'fail';
    for (let i = 0; i < 6; i++) {
      const res = await h('f.test', `/api/${i}`);
      assert.equal(res.status, 200, edge.errorLog().slice(-500));
      assert.match(res.body, /^o2 /);
    }
    const metrics = (await get(edge.admin, 'x', '/metrics')).body;
    assert.match(metrics, /cirrus_edge_breaker_state\{origin="http:\/\/127\.0\.0\.1:1"\} 1/);
    assert.match(metrics, /cirrus_edge_origin_seconds_bucket\{domain="f\.test",le="\+Inf"\} \d+/);
    // The open breaker keeps tries away from the failing origins.
    const flakyHits = flaky.hits;
    await h('f.test', '/api/after-open');
    assert.equal(flaky.hits, flakyHits);
    flaky.mode = 'ok';
  });

  it('opens the breaker of a failing primary, sends the backup, and closes after a half-open probe', async () => {
    primary.mode = 'fail';
    for (let i = 0; i < 3; i++) assert.match((await h('b.test', `/b${i}`)).body, /^backup /);
    const primaryHits = primary.hits;
    assert.match((await h('b.test', '/while-open')).body, /^backup /);
    assert.equal(primary.hits, primaryHits, 'an open breaker is not tried');
    primary.mode = 'ok';
    await sleep(1100);
    await until(
      'primary back after the half-open probe',
      async () => /^primary /.test((await h('b.test', '/probe')).body),
      2000,
    );
    const metrics = (await get(edge.admin, 'x', '/metrics')).body;
    assert.match(
      metrics,
      new RegExp(
        `cirrus_edge_breaker_state\\{origin="http://127\\.0\\.0\\.1:${primary.port}"\\} 0`,
      ),
    );
  });

  it('serves stale content while the only origin has an open breaker, without asking it', async () => {
    await sleep(Math.max(0, lonePrimedAt + 2100 - Date.now()));
    lone.mode = 'fail';
    const statuses: number[] = [];
    for (let i = 0; i < 4 && statuses.at(-1) !== 503; i++)
      statuses.push((await h('lone.test', `/api/${i}`)).status);
    // Two failures open it (one when the priming success falls in the same 10 s window).
    assert.ok(/^(500,)?500,503$/.test(statuses.join()), statuses.join());
    const hits = lone.hits;
    const res = await h('lone.test', '/v/clip.ts');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['x-cache-status']), /^(STALE|UPDATING)$/);
    assert.match(res.body, /^lone /);
    assert.equal((await h('lone.test', '/api/9')).status, 503, 'no origin left: fail fast');
    assert.equal(lone.hits, hits, 'the open breaker keeps requests off the origin');
    lone.mode = 'ok';
  });

  it('resolves an origin given by host name (here through the DNS of Cirrus itself)', async () => {
    const res = await h('named.test', '/by-name');
    assert.equal(res.status, 200, edge.errorLog().slice(-400));
    assert.match(res.body, /^o1 \d+ \/by-name/);
    assert.equal(o1.last?.headers.host, 'named.test');
  });

  it('speaks HTTPS to the origin with the real name as SNI and verifies it', async () => {
    const ok = await h('secure.test', '/s');
    assert.equal(ok.status, 200, edge.errorLog().slice(-400));
    assert.match(ok.body, /^secure /);
    assert.equal(secure.last?.headers.host, 'secure.test');
    const bad = await h('wrongname.test', '/s');
    assert.equal(bad.status, 502, 'a certificate for another name is refused');
  });

  it('applies the node override: 302 for big files under a path, through the API', async () => {
    const put = await api(cirrus, 'PUT', `/api/v1/nodes/${NODE}/edge`, {
      redirect: { to: 'https://big.example.net', paths: ['/dl/*'], minBytes: 20 },
    });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    await until(
      'redirect applied',
      async () => (await h('a.test', '/dl/big.bin')).status === 302,
      1000,
    );
    const res = await h('a.test', '/dl/file.zip?x=1');
    assert.equal(res.headers.location, 'https://big.example.net/dl/file.zip?x=1');
    assert.equal(res.body, '');
    assert.equal((await h('a.test', '/other/file.zip')).status, 200, 'outside the paths');
    await api(cirrus, 'PUT', `/api/v1/nodes/${NODE}/edge`, {
      redirect: { to: 'https://big.example.net', paths: ['/dl/*'], minBytes: 100000 },
    });
    await until(
      'small files stay',
      async () => (await h('a.test', '/dl/big.bin')).status === 200,
      1000,
    );
    await api(cirrus, 'DELETE', `/api/v1/nodes/${NODE}/edge`);
  });

  it('purges a URL, a prefix and a whole domain through POST /api/v1/purge within a second', async () => {
    for (const p of ['/static/p1.css', '/static/p2.css', '/assets/p3.js']) await h('a.test', p);
    assert.equal((await h('a.test', '/static/p1.css')).headers['x-cache-status'], 'HIT');
    const purge = async (body: object) => {
      const res = await api(cirrus, 'POST', '/api/v1/purge', body);
      assert.equal(res.status, 202, JSON.stringify(res.json));
      assert.equal(res.json.receivers, 1);
    };
    await h('a.test', '/static/with%20space.css');
    await purge({
      urls: ['http://a.test/static/p1.css?utm_source=x', 'http://a.test/static/with space.css'],
    });
    const ms = await until(
      'URL purged',
      async () => (await h('a.test', '/static/p1.css')).headers['x-cache-status'] === 'MISS',
      1000,
    );
    assert.ok(ms < 1000);
    assert.equal((await h('a.test', '/static/with%20space.css')).headers['x-cache-status'], 'MISS');
    assert.equal((await h('a.test', '/static/p2.css')).headers['x-cache-status'], 'HIT');
    await purge({ prefixes: ['https://a.test/static/'] });
    await until(
      'prefix purged',
      async () => (await h('a.test', '/static/p2.css')).headers['x-cache-status'] === 'MISS',
      1000,
    );
    assert.equal((await h('a.test', '/assets/p3.js')).headers['x-cache-status'], 'HIT');
    await purge({ domains: ['a.test'] });
    await until(
      'domain purged',
      async () => (await h('a.test', '/assets/p3.js')).headers['x-cache-status'] === 'MISS',
      1000,
    );
  });

  it('applies a purge once while a reload runs two subscribers', async () => {
    await h('a.test', '/static/reload.css');
    const pid = Number(readFileSync(join(edge.prefix, 'logs/nginx.pid'), 'utf8'));
    const count = async () =>
      Number(
        /cirrus_edge_purges_total\{kind="url"\} (\d+)/.exec(
          (await get(edge.admin, 'x', '/metrics')).body,
        )?.[1] ?? 0,
      );
    const purgesBefore = await count();
    process.kill(pid, 'SIGHUP');
    await until(
      'old and new subscriber',
      async () => (await r.pubsub('NUMSUB', 'cdn:purge'))[1] === 2,
      3000,
    );
    const res = await api(cirrus, 'POST', '/api/v1/purge', {
      urls: ['http://a.test/static/reload.css'],
    });
    assert.equal(res.json.receivers, 2);
    await until(
      'purged',
      async () => (await h('a.test', '/static/reload.css')).headers['x-cache-status'] === 'MISS',
      1000,
    );
    assert.equal((await count()) - purgesBefore, 1, 'applied by one subscriber only');
    await until(
      'old worker gone',
      async () => (await r.pubsub('NUMSUB', 'cdn:purge'))[1] === 1,
      8000,
    );
  });

  it('keeps serving known domains with their last config while Redis is unreachable', async () => {
    assert.equal((await h('a.test', '/redis-down-0')).status, 200);
    await r.call('CLIENT', 'PAUSE', '4000', 'ALL'); // every Redis command now blocks 4 s
    const pausedAt = Date.now();
    await sleep(1200); // EDGE_CONFIG_TTL is 1 s in this test: the cached config is gone
    const first = await h('a.test', '/redis-down-1');
    assert.equal(first.status, 200, edge.errorLog().slice(-300));
    const t0 = Date.now();
    const second = await h('a.test', '/redis-down-2');
    assert.equal(second.status, 200);
    assert.ok(Date.now() - t0 < 500, 'Redis is left alone during the back-off');
    assert.ok(Date.now() - pausedAt < 4000, 'checked while Redis was still paused');
    assert.match(
      (await get(edge.admin, 'x', '/metrics')).body,
      /cirrus_edge_redis_errors_total [1-9]/,
    );
    await sleep(Math.max(0, pausedAt + 4100 - Date.now()));
  });

  it('counts requests by domain, status class and cache status in Prometheus text', async () => {
    const m = (await get(edge.admin, 'x', '/metrics')).body;
    assert.match(m, /# TYPE cirrus_edge_requests_total counter/);
    assert.match(m, /cirrus_edge_requests_total\{domain="a\.test",status="2xx",cache="HIT"\} \d+/);
    assert.match(
      m,
      /cirrus_edge_requests_total\{domain="_unknown",status="4xx",cache="NONE"\} \d+/,
    );
    assert.match(m, /# TYPE cirrus_edge_origin_seconds histogram/);
    assert.doesNotMatch(m, /nobody\.test/);
  });
});
