// Redis over TLS only (no plaintext port) with ACL users, a real redis-server: Cirrus runs
// on it from `store.redisUrl` (rediss://) plus `store.redis` (user, password, CA), both
// connections (commands and subscriber) authenticate, and a wrong password or a missing CA
// fails start() with STORE_UNAVAILABLE naming the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { supervise } from '../helpers/child.js';
import { freePort } from '../helpers/redis-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { finishConfig } from '../../src/config/load.js';
import { redisConnection } from '../../src/store/redis-connection.js';
import { RedisStore } from '../../src/store/redis.js';
import { eventually } from '../helpers/wait.js';
import { edgeAclRules } from '../../src/edge/enroll.js';
import { get, startEdge } from '../helpers/nginx-edge.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const EDGE = 'edge-tls-1';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

describe('Redis with TLS and ACL users', { timeout: 60_000 }, () => {
  let dir: string;
  let port: number;
  let halt: () => Promise<void>;
  let ca: string;
  let run: RunningCirrus | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-redis-tls-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      dir,
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=test CA',
    );
    openssl(
      dir,
      'req',
      ...ec,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    );
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl(
      dir,
      ...['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key'],
      ...['-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'],
    );
    ca = join(dir, 'ca.pem');
    port = await freePort();
    writeFileSync(
      join(dir, 'redis.conf'),
      [
        'port 0',
        `tls-port ${port}`,
        'bind 127.0.0.1',
        `tls-cert-file ${join(dir, 'server.pem')}`,
        `tls-key-file ${join(dir, 'server.key')}`,
        `tls-ca-cert-file ${ca}`,
        'tls-auth-clients optional',
        `dir ${dir}`,
        'save ""',
        'appendonly no',
        `logfile ${join(dir, 'redis.log')}`,
        'user default off',
        // Cirrus's keys and channels only, no dangerous commands, INFO for the ready check.
        'user cirrus on >s3cret ~cdn:* &cdn:* +@all -@dangerous +info',
        // The edge's own read-only user, with the rules `cirrus edge enroll` gives it.
        `user edge-${EDGE} ${edgeAclRules(EDGE, 'edge-pw').join(' ')}`,
        '',
      ].join('\n'),
    );
    halt = supervise(spawn('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore' }));
    await eventually('redis over TLS', 10_000, async () => {
      const r = new Redis({
        host: '127.0.0.1',
        port,
        username: 'cirrus',
        password: 's3cret',
        tls: { ca: readFileSync(ca) },
        lazyConnect: true,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined);
      try {
        await r.connect();
        return (await r.ping()) === 'PONG' ? true : undefined;
      } finally {
        r.disconnect();
      }
    });
  });
  after(async () => {
    await run?.stop();
    await halt?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const store = (password: string, caFile: string | null) => ({
    redisUrl: `rediss://127.0.0.1:${port}`,
    file: null,
    redis: { username: 'cirrus', password, tls: { ca: caFile } },
  });

  it('serves from a TLS-only Redis as an ACL user; a change reaches a second instance by pub/sub', async () => {
    run = await startCirrus({ store: store('s3cret', ca) });
    const nodes = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'fra-1', ipv4: '192.0.2.11', pool: 'fra' },
    ]);
    assert.equal(nodes.status, 200, JSON.stringify(nodes.json));
    const created = await api(run, 'POST', '/api/v1/domains', {
      domain: 'tls.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));

    // A second store on the same settings sees the change through its TLS subscriber.
    const cfg = finishConfig({ store: store('s3cret', ca) });
    const other = new RedisStore({ connection: redisConnection(cfg.store)! });
    await other.start();
    try {
      const seen = new Promise((resolve) => other.onChange(resolve));
      const again = await api(run, 'POST', '/api/v1/domains', {
        domain: 'tls2.example.com',
        origins: [{ address: '203.0.113.2' }],
      });
      assert.equal(again.status, 201, JSON.stringify(again.json));
      await seen;
      assert.equal(await other.sismember('cdn:domains', 'tls2.example.com'), true);
    } finally {
      await other.stop();
    }
  });

  it('a wrong password or no CA fails start() with STORE_UNAVAILABLE and the reason', async () => {
    const wrong = new RedisStore({
      connection: redisConnection(finishConfig({ store: store('wrong', ca) }).store)!,
    });
    await assert.rejects(wrong.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /WRONGPASS/);
      return true;
    });
    const noCa = new RedisStore({
      connection: redisConnection(finishConfig({ store: store('s3cret', null) }).store)!,
    });
    await assert.rejects(noCa.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /certificate/i);
      return true;
    });
  });

  it('names the field when a TLS file cannot be read', () => {
    assert.throws(
      () => redisConnection(finishConfig({ store: store('s3cret', '/nonexistent/ca.pem') }).store),
      (err: Error & { field?: string }) => err.field === 'store.redis.tls.ca',
    );
  });
  it('the edge (nginx+Lua) reads over TLS as its ACL user and follows a change', async () => {
    assert.ok(run, 'the first test started Cirrus');
    const cirrus = run;
    const origin = createServer((_req, res) => res.end('tls-origin\n'));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    const port_ = (origin.address() as AddressInfo).port;
    const edge = await startEdge({
      redisUrl: `rediss://edge-${EDGE}:edge-pw@127.0.0.1:${port}`,
      node: EDGE,
      redisCa: ca,
      env: { REDIS_TLS_SERVERNAME: 'localhost', EDGE_CONFIG_TTL: '30' },
    });
    try {
      const created = await api(cirrus, 'POST', '/api/v1/domains', {
        domain: 'edge-tls.example.com',
        origins: [{ address: '127.0.0.1', port: port_ }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      await eventually('the edge serves over a TLS Redis', 10_000, async () =>
        (await get(edge.http, 'edge-tls.example.com', '/x')).body === 'tls-origin\n'
          ? true
          : undefined,
      ).catch((err: Error) => assert.fail(`${err.message}\n${edge.errorLog().slice(-2000)}`));
    } finally {
      await edge.stop();
      origin.close();
    }
  });
});
