// The edge's HTTP/2 listener, signed URLs, per-client limits, origin shield and prewarm,
// against three real nginx + Lua edges (a shield parent and two children on their own
// loopback addresses), a real redis-server, a real Cirrus writing the domains and a loopback
// origin that counts its fetches per path.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { get, makeCert, startEdge, type RunningEdge } from '../helpers/nginx-edge.js';
import { until } from '../helpers/edge-server.js';
import { signToken } from '../../src/edge/signing.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts fetches per path; /slow/ answers after 600 ms. */
class Origin {
  hits = new Map<string, number>();
  headers: IncomingMessage['headers'][] = [];
  port = 0;
  server: Server | undefined;
  total() {
    return [...this.hits.values()].reduce((a, b) => a + b, 0);
  }
  handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    this.headers.push(req.headers);
    const body = `origin ${path} ${'x'.repeat(64)}`;
    const send = () => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (path.startsWith('/slow/')) setTimeout(send, 600);
    else setTimeout(send, 30); // long enough for concurrent misses to overlap
  };
  async start() {
    const server = createServer(this.handle);
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

const SECRET1 = 'first-secret-0123456789';
const SECRET2 = 'second-secret-0123456789';

describe('edge tiers: h2, signed URLs, limits, origin shield, prewarm', () => {
  let redis: RedisServer;
  let cirrus: RunningCirrus;
  let r: Redis;
  let dir: string;
  let parent: RunningEdge;
  let child1: RunningEdge;
  let child2: RunningEdge;
  let port = 0;
  const origin = new Origin();
  const o = () => [{ address: '127.0.0.1', port: origin.port }];

  const domain = async (name: string, body: object) => {
    const res = await api(cirrus, 'POST', '/api/v1/domains', { domain: name, ...body });
    assert.equal(res.status, 201, JSON.stringify(res.json));
  };
  /** A request to one edge's HTTP listener. */
  const at = (e: RunningEdge, host: string, path: string, headers: Record<string, string> = {}) =>
    get(port, host, path, headers, { ip: e.ip, plain: true });
  const metric = async (e: RunningEdge, series: string) => {
    const text = (await get(e.admin, 'localhost', '/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-edge-tiers-'));
    redis = await startRedis();
    r = new Redis(redis.url);
    await origin.start();
    cirrus = await startCirrus({ store: { redisUrl: redis.url, file: null } });
    port = await freePort();
    for (const [id, ip] of [
      ['shield-p', '127.0.0.2'],
      ['edge-c1', '127.0.0.3'],
      ['edge-c2', '127.0.0.4'],
      ['shield-dead', '127.0.0.9'],
    ] as const) {
      const res = await api(cirrus, 'PUT', `/api/v1/nodes/${id}`, {
        ipv4: ip,
        active: true,
        pool: id === 'shield-dead' ? 'dead' : id === 'shield-p' ? 'shield' : 'edge',
      });
      assert.ok(res.status < 300, JSON.stringify(res.json));
    }
    await domain('h2.test', { origins: o(), cache: { paths: ['/static/*'] } });
    await domain('sg.test', {
      origins: o(),
      cache: { paths: ['/static/*'] },
      signing: { keys: [{ id: 'k1', secret: SECRET1 }] },
    });
    await domain('lim.test', { origins: o(), limits: { rps: 2, burst: 2 } });
    await domain('conn.test', { origins: o(), limits: { connections: 2 } });
    await domain('hdr.test', {
      origins: o(),
      limits: { rps: 1, clientHeader: 'X-Client-IP', trustedSources: ['127.0.0.0/8'] },
    });
    await domain('untrusted.test', {
      origins: o(),
      limits: { rps: 1, clientHeader: 'X-Client-IP', trustedSources: ['192.0.2.0/24'] },
    });
    await domain('sh.test', {
      origins: o(),
      cache: { paths: ['/static/*'] },
      shield: { node: 'shield-p', port },
    });
    await domain('shsg.test', {
      origins: o(),
      cache: { paths: ['/static/*'] },
      shield: { pool: 'shield', port },
      signing: { keys: [{ id: 'k1', secret: SECRET1 }] },
    });
    await domain('dead.test', {
      origins: o(),
      cache: { paths: ['/static/*'] },
      shield: { node: 'shield-dead', port },
    });
    await domain('pw.test', { origins: o(), cache: { paths: ['/static/*'] } });
    const cert = makeCert(dir, 'h2.test');
    await r.hset('cdn:cert:h2.test', { cert: cert.cert, key: cert.key });
    const common = { redisUrl: redis.url, httpPort: port, env: { EDGE_CONFIG_TTL: '1' } };
    // Each assigned as it comes up, so after() stops the ones that started if one fails.
    await Promise.all([
      startEdge({ ...common, node: 'shield-p', ip: '127.0.0.2' }).then((e) => (parent = e)),
      startEdge({ ...common, node: 'edge-c1', ip: '127.0.0.3' }).then((e) => (child1 = e)),
      startEdge({ ...common, node: 'edge-c2', ip: '127.0.0.4' }).then((e) => (child2 = e)),
    ]);
  });

  after(async () => {
    await Promise.all([parent, child1, child2].map((e) => e?.stop()));
    await cirrus?.stop();
    r?.disconnect();
    await origin.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('speaks HTTP/2 on the TLS listener (curl --http2, nghttp), HTTP/1.1 still', async () => {
    const url = `https://h2.test:${parent.https}/static/h2.css`;
    const resolve = `h2.test:${parent.https}:127.0.0.2`;
    const curl = (...args: string[]) =>
      run('curl', ['-sk', '--resolve', resolve, '-o', '/dev/null', ...args, url]);
    const h2 = await curl('--http2', '-w', '%{http_version} %{http_code}');
    assert.equal(h2.stdout, '2 200');
    const h1 = await curl('--http1.1', '-w', '%{http_version} %{http_code}');
    assert.equal(h1.stdout, '1.1 200');
    const ng = await run('nghttp', [
      '-nv',
      '-H',
      ':authority: h2.test',
      `https://127.0.0.2:${parent.https}/static/h2.css`,
    ]);
    assert.match(ng.stdout, /recv \(stream_id=\d+\) :status: 200/);
    assert.match(ng.stdout, /recv \(stream_id=\d+\) x-cache-status: HIT/);
  });

  describe('signed URLs', () => {
    const sign = async (url: string, extra: object = {}) => {
      const res = await api(cirrus, 'POST', '/api/v1/domains/sg.test/sign-url', { url, ...extra });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      return res.json as { url: string; token: string; cookie: string; keyId: string };
    };
    const path = (u: string) => new URL(u).pathname + new URL(u).search;

    it('refuses a request without a token, with the reason in a header', async () => {
      const res = await at(parent, 'sg.test', '/static/a.css');
      assert.equal(res.status, 403);
      assert.equal(res.headers['x-cirrus-auth-error'], 'missing');
    });

    it('serves a URL signed by the API, keeps the token out of the cache key', async () => {
      const a = await sign('http://sg.test/static/key.css?v=1', { ttl: 300 });
      const b = await sign('http://sg.test/static/key.css?v=1', { ttl: 600 });
      assert.notEqual(a.token, b.token);
      const first = await at(parent, 'sg.test', path(a.url));
      assert.equal(first.status, 200, first.body);
      assert.equal(first.headers['x-cache-status'], 'MISS');
      const second = await at(parent, 'sg.test', path(b.url));
      assert.equal(second.headers['x-cache-status'], 'HIT', 'another token, same object');
      assert.equal(origin.hits.get('/static/key.css'), 1);
      // The token is checked before the cache: a cached object still needs one.
      const bare = await at(parent, 'sg.test', '/static/key.css?v=1');
      assert.equal(bare.status, 403);
    });

    it('takes the token from the cookie too', async () => {
      const s = await sign('http://sg.test/static/cookie.css');
      const res = await at(parent, 'sg.test', '/static/cookie.css', { cookie: s.cookie });
      assert.equal(res.status, 200);
    });

    it('rejects tampered, expired, foreign-path and foreign-client tokens', async () => {
      const s = await sign('http://sg.test/static/t.css');
      const bad = s.url.replace(
        /hmac%3D([0-9a-f])/,
        (_m, c: string) => `hmac%3D${c === '0' ? '1' : '0'}`,
      );
      const tampered = await at(parent, 'sg.test', path(bad));
      assert.equal(tampered.headers['x-cirrus-auth-error'], 'bad-signature');
      const expired = signToken(
        { id: 'k1', secret: SECRET1 },
        { path: '/static/t.css', expires: Math.floor(Date.now() / 1000) - 5 },
      );
      const exp = await at(parent, 'sg.test', `/static/t.css?token=${encodeURIComponent(expired)}`);
      assert.equal(exp.status, 403);
      assert.equal(exp.headers['x-cirrus-auth-error'], 'expired');
      const other = await at(
        parent,
        'sg.test',
        `/static/u.css?token=${encodeURIComponent(s.token)}`,
      );
      assert.equal(other.headers['x-cirrus-auth-error'], 'bad-signature', 'signed for t.css only');
      const dir1 = await sign('http://sg.test/static/d1/x.css', { pathPrefix: '/static/d1/' });
      const inside = await at(
        parent,
        'sg.test',
        `/static/d1/y.css?token=${encodeURIComponent(dir1.token)}`,
      );
      assert.equal(inside.status, 200, 'a path-prefix token covers the whole prefix');
      const outside = await at(
        parent,
        'sg.test',
        `/static/d2/y.css?token=${encodeURIComponent(dir1.token)}`,
      );
      assert.equal(outside.headers['x-cirrus-auth-error'], 'path');
      const far = await sign('http://sg.test/static/c.css', { clientPrefix: '10.0.0.0/8' });
      assert.equal(
        (await at(parent, 'sg.test', path(far.url))).headers['x-cirrus-auth-error'],
        'client',
      );
      const near = await sign('http://sg.test/static/c.css', { clientPrefix: '127.0.0.0/8' });
      assert.equal((await at(parent, 'sg.test', path(near.url))).status, 200);
    });

    it('rotates keys: two valid at once, then the old one refused', async () => {
      const old = await sign('http://sg.test/static/rot.css');
      const put = (keys: object[]) =>
        api(cirrus, 'PUT', '/api/v1/domains/sg.test', {
          origins: o(),
          cache: { paths: ['/static/*'] },
          signing: { keys },
        });
      assert.equal(
        (
          await put([
            { id: 'k2', secret: SECRET2 },
            { id: 'k1', secret: SECRET1 },
          ])
        ).status,
        200,
      );
      const fresh = await sign('http://sg.test/static/rot.css');
      assert.equal(fresh.keyId, 'k2');
      await until(
        'k2 accepted',
        async () => (await at(parent, 'sg.test', path(fresh.url))).status === 200,
        3000,
      );
      assert.equal((await at(parent, 'sg.test', path(old.url))).status, 200, 'k1 still valid');
      const view = await api(cirrus, 'GET', '/api/v1/domains/sg.test');
      assert.deepEqual(view.json.signing.keys, [{ id: 'k2' }, { id: 'k1' }], 'no secrets shown');
      assert.equal((await put([{ id: 'k2', secret: SECRET2 }])).status, 200);
      await until(
        'k1 refused',
        async () =>
          (await at(parent, 'sg.test', path(old.url))).headers['x-cirrus-auth-error'] ===
          'unknown-key',
        3000,
      );
      assert.equal((await at(parent, 'sg.test', path(fresh.url))).status, 200);
      const cli = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli.ts',
          'edge',
          'sign-url',
          'http://sg.test/static/cli.css',
          '--ttl',
          '60',
        ],
        { env: { ...process.env, REDIS_URL: redis.url } },
      );
      const signed = cli.stdout.trim();
      assert.match(
        signed,
        /^http:\/\/sg\.test\/static\/cli\.css\?token=exp%3D\d+~kid%3Dk2~hmac%3D[0-9a-f]{64}$/,
      );
      assert.equal((await at(parent, 'sg.test', path(signed))).status, 200);
    });

    it('answers 400 naming the field for bad signing input', async () => {
      const none = await api(cirrus, 'POST', '/api/v1/domains/h2.test/sign-url', {
        url: 'http://h2.test/x',
      });
      assert.equal(none.status, 400);
      assert.match(JSON.stringify(none.json), /signing/);
      const ip = await api(cirrus, 'POST', '/api/v1/domains/sg.test/sign-url', {
        url: 'http://sg.test/x',
        clientPrefix: '10.0.0.0/99',
      });
      assert.equal(ip.status, 400);
      assert.match(JSON.stringify(ip.json), /clientPrefix/);
      const short = await api(cirrus, 'PUT', '/api/v1/domains/sg.test', {
        origins: o(),
        signing: { keys: [{ id: 'k', secret: 'short' }] },
      });
      assert.equal(short.status, 400);
      assert.match(JSON.stringify(short.json), /secret/);
    });
  });

  describe('limits', () => {
    it('answers 429 with Retry-After above rate + burst, counted per domain', async () => {
      const statuses: number[] = [];
      let retry: string | undefined;
      for (let i = 0; i < 8; i++) {
        const res = await at(child1, 'lim.test', '/page');
        statuses.push(res.status);
        if (res.status === 429) retry = res.headers['retry-after'] as string;
      }
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], 'rate 2/s with a burst of 2');
      assert.ok(statuses.filter((s) => s === 429).length >= 3, statuses.join(','));
      assert.ok(Number(retry) >= 1, `Retry-After ${retry}`);
      assert.ok(
        (await metric(child1, 'cirrus_edge_limited_total{domain="lim.test",limit="rate"}')) >= 3,
      );
      await sleep(1600);
      assert.equal((await at(child1, 'lim.test', '/page')).status, 200, 'the bucket drains');
    });

    it('limits requests in flight per client', async () => {
      const all = await Promise.all([1, 2, 3, 4].map((i) => at(child2, 'conn.test', `/slow/${i}`)));
      const codes = all.map((x) => x.status).sort();
      assert.deepEqual(codes, [200, 200, 429, 429]);
      assert.equal((await at(child2, 'conn.test', '/slow/5')).status, 200, 'released after');
      assert.equal(
        await metric(child2, 'cirrus_edge_limited_total{domain="conn.test",limit="connections"}'),
        2,
      );
    });

    it('keys by the client header only from trusted sources', async () => {
      const h = (host: string, ip: string) => at(parent, host, '/page', { 'x-client-ip': ip });
      assert.equal((await h('hdr.test', '198.51.100.1')).status, 200);
      assert.equal((await h('hdr.test', '198.51.100.1')).status, 429);
      assert.equal((await h('hdr.test', '198.51.100.2')).status, 200, 'another client');
      assert.equal((await h('untrusted.test', '198.51.100.1')).status, 200);
      assert.equal(
        (await h('untrusted.test', '198.51.100.2')).status,
        429,
        'the header is ignored from an untrusted peer: one client',
      );
    });
  });

  describe('origin shield', () => {
    it('N edges × M misses fetch each object from the origin once, through the parent', async () => {
      const objects = ['/static/s1.js', '/static/s2.js', '/static/s3.js', '/static/s4.js'];
      const edges = [child1, child2, parent];
      const replies = await Promise.all(
        edges.flatMap((e) => objects.map((p) => at(e, 'sh.test', p))),
      );
      assert.ok(replies.every((x) => x.status === 200));
      for (const p of objects) assert.equal(origin.hits.get(p), 1, `${p} fetched once`);
      const viaParent = replies.filter((x) =>
        /^shield-p (MISS|HIT|UPDATING)/.test(String(x.headers['x-cirrus-parent'])),
      );
      assert.equal(viaParent.length, 2 * objects.length, 'every child miss went to the parent');
      assert.ok(
        !replies.some(
          (x) => x.headers['x-cirrus-parent'] && x.headers['x-cdn-node'] === 'shield-p',
        ),
        'the parent does not shield through itself',
      );
      // The origin never sees the shield's own headers.
      assert.ok(
        origin.headers.every(
          (h) => h['x-cirrus-shield'] === undefined && h['x-cirrus-token'] === undefined,
        ),
      );
    });

    it('passes a signed URL check on the parent (pool shield, short token header)', async () => {
      const s = await api(cirrus, 'POST', '/api/v1/domains/shsg.test/sign-url', {
        url: 'http://shsg.test/static/p.js',
      });
      const p = new URL(s.json.url as string);
      const a = await at(child1, 'shsg.test', p.pathname + p.search);
      assert.equal(a.status, 200, a.body);
      assert.match(String(a.headers['x-cirrus-parent']), /^shield-p MISS/);
      const b = await at(child2, 'shsg.test', p.pathname + p.search);
      assert.match(String(b.headers['x-cirrus-parent']), /^shield-p HIT/);
      assert.equal(origin.hits.get('/static/p.js'), 1);
    });

    it('falls back to the origin when the parent is down', async () => {
      const res = await at(child1, 'dead.test', '/static/dead.js');
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-cirrus-parent'], undefined);
      assert.equal(origin.hits.get('/static/dead.js'), 1);
      assert.equal(
        await metric(
          child1,
          'cirrus_edge_shield_requests_total{domain="dead.test",result="fallback"}',
        ),
        1,
      );
    });

    it('takes a shield from a node override (node modifier)', async () => {
      await domain('mod.test', { origins: o(), cache: { paths: ['/static/*'] } });
      const put = await api(cirrus, 'PUT', '/api/v1/nodes/edge-c2/edge', {
        domains: { 'mod.test': { shield: { node: 'shield-p', port } } },
      });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      await until(
        'edge-c2 shields mod.test',
        async () => {
          const x = await at(child2, 'mod.test', `/static/m${Date.now()}.js`);
          return /^shield-p /.test(String(x.headers['x-cirrus-parent']));
        },
        3000,
      );
      const direct = await at(child1, 'mod.test', '/static/direct.js');
      assert.equal(direct.headers['x-cirrus-parent'], undefined, 'edge-c1 has no override');
      const bad = await api(cirrus, 'PUT', '/api/v1/nodes/edge-c2/edge', {
        shield: { node: 'shield-p', pool: 'shield' },
      });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.json), /shield/);
    });
  });

  describe('prewarm', () => {
    it('fetches the URLs into every edge cache, reports progress, applies an id once', async () => {
      const paths = ['/static/w1.css', '/static/w2.css', '/static/w3.css'];
      const before = await metric(child1, 'cirrus_edge_prewarm_urls_total{result="ok"}');
      const res = await api(cirrus, 'POST', '/api/v1/prewarm', {
        id: 'launch-1',
        base: 'http://pw.test/static/',
        paths: ['w1.css', 'w2.css'],
        urls: ['http://pw.test/static/w3.css'],
        concurrency: 2,
      });
      assert.equal(res.status, 202, JSON.stringify(res.json));
      assert.equal(res.json.urls, 3);
      assert.ok(res.json.receivers >= 3, `receivers ${res.json.receivers}`);
      for (const e of [parent, child1, child2])
        await until(
          `${e.ip} prewarmed`,
          async () => (await metric(e, 'cirrus_edge_prewarm_urls_total{result="ok"}')) >= 3,
          5000,
        );
      assert.equal(await metric(child1, 'cirrus_edge_prewarm_urls_total{result="ok"}'), before + 3);
      assert.equal(await metric(child1, 'cirrus_edge_prewarm_pending'), 0);
      for (const p of paths) {
        assert.equal((await at(child1, 'pw.test', p)).headers['x-cache-status'], 'HIT');
        assert.equal(origin.hits.get(p), 3, `${p}: one fetch per edge`);
      }
      const again = await api(cirrus, 'POST', '/api/v1/prewarm', {
        id: 'launch-1',
        urls: ['http://pw.test/static/w1.css'],
      });
      assert.equal(again.status, 202);
      await sleep(500);
      assert.equal(await metric(child1, 'cirrus_edge_prewarm_urls_total{result="ok"}'), before + 3);
      assert.equal(origin.hits.get('/static/w1.css'), 3);
    });

    it('answers 400 naming the field for an unmanaged domain or an empty list', async () => {
      const bad = await api(cirrus, 'POST', '/api/v1/prewarm', { urls: ['http://nope.test/x'] });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.json), /body\.urls\[0\]/);
      const empty = await api(cirrus, 'POST', '/api/v1/prewarm', {});
      assert.equal(empty.status, 400);
    });
  });
});
