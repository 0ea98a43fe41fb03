// The API side of the edge fleet: validation of the domains' edge fields, node overrides and
// purges (4xx naming the field), purge messages as published on `cdn:purge`, the embedded
// store's clear refusal, and `cirrus edge enroll` creating a Redis user that cannot write.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

describe('edge API with the embedded store', () => {
  let cirrus: RunningCirrus;
  before(async () => {
    cirrus = await startCirrus();
  });
  after(() => cirrus?.stop());

  it('validates the cache and breaker fields of a domain, naming the field', async () => {
    const bad = async (extra: object, field: RegExp) => {
      const res = await api(cirrus, 'POST', '/api/v1/domains', {
        domain: 'v.example.com',
        origins: [{ address: '203.0.113.1' }],
        ...extra,
      });
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.match(res.json.field, field);
    };
    await bad({ cache: { ttl: -1 } }, /^body\.cache\.ttl$/);
    await bad({ cache: { paths: ['static/*'] } }, /^body\.cache\.paths/);
    await bad({ cache: { rules: [{ match: '*.m3u8' }] } }, /^body\.cache\.rules/);
    await bad({ cache: { keyParams: ['a b'] } }, /^body\.cache\.keyParams/);
    await bad({ cache: { colour: 'blue' } }, /^body\.cache/);
    await bad({ breaker: { errorRatio: 2 } }, /^body\.breaker\.errorRatio$/);

    const cache = {
      paths: ['/media/*'],
      extensions: ['mp4'],
      ttl: 600,
      rules: [{ match: '*.m3u8', ttl: 2 }],
      keyParams: ['v'],
      negativeTtl: 5,
    };
    const ok = await api(cirrus, 'POST', '/api/v1/domains', {
      domain: 'v.example.com',
      origins: [{ address: '203.0.113.1' }],
      cache,
      breaker: { minRequests: 10 },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    const got = await api(cirrus, 'GET', '/api/v1/domains/v.example.com');
    assert.deepEqual(got.json.cache, cache);
    assert.deepEqual(got.json.breaker, { minRequests: 10 });
  });

  it('answers 409 for purges and overrides: they need the Redis store', async () => {
    const purge = await api(cirrus, 'POST', '/api/v1/purge', { domains: ['v.example.com'] });
    assert.equal(purge.status, 409);
    assert.match(purge.json.message, /needs the Redis store/);
    await api(cirrus, 'PUT', '/api/v1/nodes/n1', { ipv4: '192.0.2.1' });
    const over = await api(cirrus, 'PUT', '/api/v1/nodes/n1/edge', {
      redirect: { to: 'https://x.example' },
    });
    assert.equal(over.status, 409);
  });
});

describe('edge API with the Redis store', () => {
  let redis: RedisServer;
  let cirrus: RunningCirrus;
  let sub: Redis;
  const messages: string[] = [];

  before(async () => {
    redis = await startRedis();
    cirrus = await startCirrus({ store: { redisUrl: redis.url, file: null } });
    sub = new Redis(redis.url);
    sub.on('message', (_ch: string, m: string) => messages.push(m));
    await sub.subscribe('cdn:purge');
    await api(cirrus, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
  });
  after(async () => {
    sub?.disconnect();
    await cirrus?.stop();
    await redis?.stop();
  });

  it('rejects purge bodies with the field at fault', async () => {
    const bad = async (body: unknown, field: RegExp) => {
      const res = await api(cirrus, 'POST', '/api/v1/purge', body);
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.match(res.json.field, field);
    };
    await bad({}, /^body$/);
    await bad({ urls: ['ftp://www.example.com/a'] }, /^body\.urls/);
    await bad({ urls: ['https://other.example.org/a'] }, /^body\.urls\[0\]$/);
    await bad(
      { prefixes: ['http://www.example.com/ok', 'http://nope.example/'] },
      /^body\.prefixes\[1\]$/,
    );
    await bad({ domains: ['nope.example'] }, /^body\.domains\[0\]$/);
    await bad({ everything: true }, /^body/);
    assert.equal(messages.length, 0, 'nothing published for a rejected purge');
  });

  it('publishes one normalised purge message on cdn:purge', async () => {
    const res = await api(cirrus, 'POST', '/api/v1/purge', {
      urls: ['https://WWW.example.com/a.css?v=1'],
      prefixes: ['http://www.example.com/static/'],
      domains: ['www.example.com.'],
    });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    assert.equal(res.json.receivers, 1);
    for (let i = 0; i < 50 && messages.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const msg = JSON.parse(messages[0] ?? '{}');
    assert.equal(msg.id, res.json.id);
    assert.deepEqual(msg.urls, [{ domain: 'www.example.com', path: '/a.css?v=1' }]);
    assert.deepEqual(msg.prefixes, [{ domain: 'www.example.com', path: '/static/' }]);
    assert.deepEqual(msg.domains, ['www.example.com']);
  });

  it('stores a node override, 404 for an unknown node, 400 naming the field', async () => {
    await api(cirrus, 'PUT', '/api/v1/nodes/fra-1', { ipv4: '192.0.2.11' });
    const body = {
      redirect: { to: 'https://big.example.net', paths: ['/dl/*'], minBytes: 1000000 },
    };
    const put = await api(cirrus, 'PUT', '/api/v1/nodes/fra-1/edge', body);
    assert.equal(put.status, 200);
    assert.deepEqual((await api(cirrus, 'GET', '/api/v1/nodes/fra-1/edge')).json, body);
    const reader = new Redis(redis.url);
    const raw = await reader.get('cdn:edge:fra-1').finally(() => reader.disconnect());
    assert.deepEqual(JSON.parse(raw ?? 'null'), body);
    assert.equal((await api(cirrus, 'PUT', '/api/v1/nodes/nope/edge', body)).status, 404);
    const bad = await api(cirrus, 'PUT', '/api/v1/nodes/fra-1/edge', {
      redirect: { to: 'big.example.net' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'body.redirect.to');
    assert.equal((await api(cirrus, 'DELETE', '/api/v1/nodes/fra-1/edge')).status, 204);
    assert.deepEqual((await api(cirrus, 'GET', '/api/v1/nodes/fra-1/edge')).json, {});
  });

  it('cirrus edge enroll: registers the node and prints a Redis user that can read but not write', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'edge', 'enroll', 'ams-1', '--ipv4', '192.0.2.21'],
      {
        cwd: REPO,
        env: { ...process.env, REDIS_URL: redis.url, SEED_DIR: '', LOG_LEVEL: 'silent' },
      },
    );
    const env = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    assert.equal(env.CDN_NODE, 'ams-1');
    assert.match(env.REDIS_URL, /^redis:\/\/edge-ams-1:[0-9a-f]{48}@127\.0\.0\.1:\d+/);
    assert.equal((await api(cirrus, 'GET', '/api/v1/nodes/ams-1')).json.ipv4, '192.0.2.21');

    const edge = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 0 });
    try {
      assert.match((await edge.get('cdn:dom:www.example.com')) ?? '', /"origins"/);
      await assert.rejects(edge.set('cdn:dom:www.example.com', '{}'), /NOPERM/);
      await assert.rejects(edge.hset('cdn:cert:www.example.com', 'cert', 'x'), /NOPERM/);
      // Node records are readable (shield parents' addresses), never writable.
      assert.equal(await edge.hget('cdn:node:ams-1', 'ipv4'), '192.0.2.21');
      await assert.rejects(edge.hset('cdn:node:ams-1', 'ipv4', '192.0.2.99'), /NOPERM/);
      await assert.rejects(edge.get('cdn:acme:x'), /NOPERM/);
      await assert.rejects(edge.get('cdn:edge:fra-1'), /NOPERM/, "another node's override");
      await assert.rejects(edge.publish('cdn:purge', '{}'), /NOPERM/);
      assert.equal(await edge.get('cdn:edge:ams-1'), null);
    } finally {
      edge.disconnect();
    }
    const listener = new Redis(env.REDIS_URL);
    try {
      await listener.subscribe(
        'cdn:purge',
        'cdn:cname:dirty',
        'cdn:cert:updated',
        'cdn:edge:updated',
        'cdn:prewarm',
      );
    } finally {
      listener.disconnect();
    }
  });
});
