// The Redis store against the shared contract on a real redis-server, plus what only Redis
// does: the Cirrus CDN key layout, foreign writers on the dirty channel, shared serials.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import type { StoreChange } from '../../src/store/store.js';
import { channels } from '../../src/store/keys.js';
import { storeContract } from '../store-contract.js';
import { domain, health, node, policy, repositoriesContract } from '../repositories-contract.js';
import { keys, repos } from '../helpers/repos.js';
import { snapshotSource } from '../../src/repositories.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';

let server: RedisServer | undefined;
let admin: Redis | undefined;

before(async () => {
  server = await startRedis();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
});
after(async () => {
  await admin?.quit();
  await server?.stop();
});

const url = () => {
  if (!server) throw new Error('redis-server did not start');
  return server.url;
};
const raw = () => {
  if (!admin) throw new Error('redis-server did not start');
  return admin;
};

/** Resolves with the first change matching `pred`, or rejects after `ms`. */
function nextChange(
  store: RedisStore,
  pred: (c: StoreChange) => boolean,
  ms = 2000,
): Promise<StoreChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching change event within ${ms} ms`));
    }, ms);
    const off = store.onChange((c) => {
      if (!pred(c)) return;
      clearTimeout(timer);
      off();
      resolve(c);
    });
  });
}

const fixture = async () => {
  await raw().flushdb();
  const store = new RedisStore({ url: url() });
  await store.start();
  return { store, cleanup: () => store.stop(), reopen: () => new RedisStore({ url: url() }) };
};

storeContract('redis', fixture);
repositoriesContract('redis', fixture);

describe('RedisStore on a real redis-server', () => {
  const stores: RedisStore[] = [];
  async function open(): Promise<RedisStore> {
    const s = new RedisStore({ url: url() });
    stores.push(s);
    await s.start();
    return s;
  }
  beforeEach(async () => {
    await raw().flushdb();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.stop()));
  });

  it('writes the Cirrus CDN key layout', async () => {
    const store = await open();
    const d = domain('a.example.com');
    await repos(store).domains.put(d);
    await repos(store).nodes.put(
      node('edge-1', { ipv4: '203.0.113.1', region: 'eu', active: false }),
    );
    await repos(store).tokens.put(
      { id: 't1', name: 'ci', createdAt: '2024-01-01T00:00:00.000Z' },
      'abc',
    );
    await repos(store).zoneText.put('cdn.example.net.', 'x');

    const r = raw();
    assert.deepEqual(await r.smembers(keys.domains), ['a.example.com']);
    assert.deepEqual(JSON.parse((await r.get(keys.domain('a.example.com'))) ?? 'null'), d);
    assert.deepEqual(await r.smembers(keys.nodes), ['edge-1']);
    assert.deepEqual(await r.hgetall(keys.node('edge-1')), {
      id: 'edge-1',
      ipv4: '203.0.113.1',
      pool: 'default',
      region: 'eu',
      weight: '100',
      active: '0',
    });
    assert.deepEqual(await r.smembers(keys.tokens), ['t1']);
    assert.deepEqual(await r.hgetall(keys.token('t1')), {
      id: 't1',
      name: 'ci',
      created_at: '2024-01-01T00:00:00.000Z',
      hash: 'abc',
    });
    assert.equal(await r.get(keys.tokenHash('abc')), 't1');
    assert.equal(await r.get(keys.zoneText('cdn.example.net.')), 'x');

    await repos(store).serials.advance('cdn.example.net.', 'h', 42);
    assert.deepEqual(await r.hgetall(keys.soa('cdn.example.net.')), { serial: '42', hash: 'h' });
  });

  it('reads a legacy node hash (`ip`, no weight or active) with defaults', async () => {
    const r = raw();
    await r.hset(keys.node('old-1'), { ip: '203.0.113.5', pool: 'eu' });
    await r.sadd(keys.nodes, 'old-1', 'ghost');
    const store = await open();
    const expected = { id: 'old-1', ipv4: '203.0.113.5', pool: 'eu', weight: 100, active: true };
    assert.deepEqual(await repos(store).nodes.get('old-1'), expected);
    assert.deepEqual(
      await repos(store).nodes.list(),
      [expected],
      'a member without a hash is skipped',
    );
    assert.equal(await repos(store).nodes.get('ghost'), undefined);
    assert.deepEqual((await snapshotSource(repos(store)).loadState('z.')).nodes, [expected]);
  });

  it('keeps node fields it does not own, and drops the legacy alias with the address', async () => {
    const r = raw();
    await r.hset(keys.node('edge-1'), { ip: '203.0.113.5', pool: 'eu', fails: '3' });
    await r.sadd(keys.nodes, 'edge-1');
    const store = await open();
    await repos(store).nodes.put(node('edge-1', { ipv6: '2001:db8::1' }));
    assert.deepEqual(
      await repos(store).nodes.get('edge-1'),
      node('edge-1', { ipv6: '2001:db8::1' }),
    );
    assert.equal(await r.hget(keys.node('edge-1'), 'fails'), '3');
  });

  it('keeps mode, probe and the checker’s health as flat hash fields', async () => {
    const store = await open();
    await repos(store).nodes.put(
      node('edge-1', { ipv4: '203.0.113.1', mode: 'drain', probe: { type: 'tcp', port: 8443 } }),
    );
    await repos(store).nodes.setHealth(
      'edge-1',
      false,
      health({ state: 'down', lastError: 'timeout after 2000 ms' }),
    );
    assert.deepEqual(await raw().hgetall(keys.node('edge-1')), {
      id: 'edge-1',
      ipv4: '203.0.113.1',
      pool: 'default',
      weight: '100',
      active: '0',
      mode: 'drain',
      probe: '{"type":"tcp","port":8443}',
      state: 'down',
      ok_streak: '2',
      fail_streak: '0',
      checks: '10',
      failures: '1',
      last_error: 'timeout after 2000 ms',
      last_change: '2024-03-01T00:00:00.000Z',
      last_check: '2024-03-01T00:00:05.000Z',
    });
  });

  it('setNodeHealth reads a legacy `active` spelling before deciding it flipped', async () => {
    const r = raw();
    await r.hset(keys.node('old-1'), { ip: '203.0.113.5', active: 'true' });
    await r.sadd(keys.nodes, 'old-1');
    const store = await open();
    const seen: StoreChange[] = [];
    store.onChange((c) => seen.push(c));
    await repos(store).nodes.setHealth('old-1', true, health());
    assert.deepEqual(seen, []);
    assert.equal(await r.hget(keys.node('old-1'), 'active'), 'true', 'left as it was');
    await repos(store).nodes.setHealth('old-1', false, health({ state: 'down' }));
    assert.deepEqual(seen, [{ kind: 'health', origin: 'local' }]);
    assert.equal(await r.hget(keys.node('old-1'), 'active'), '0');
  });

  it('announces a health flip and a policy write to other instances', async () => {
    const reader = await open();
    const writer = await open();
    await repos(writer).nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
    const flip = nextChange(reader, (c) => c.origin === 'remote' && c.kind === 'health');
    await repos(writer).nodes.setHealth('edge-1', false, health({ state: 'down' }));
    assert.deepEqual(await flip, { kind: 'health', origin: 'remote' });
    assert.equal((await repos(reader).nodes.get('edge-1'))?.active, false);

    const pol = nextChange(reader, (c) => c.origin === 'remote' && c.kind === 'policy');
    await repos(writer).policy.put(policy());
    assert.deepEqual(await pol, { kind: 'policy', origin: 'remote' });
    assert.deepEqual(await repos(reader).policy.get(), policy());
  });

  it('writes views and locks as expiring keys', async () => {
    const store = await open();
    const v = {
      instance: 'gslb-a:1',
      state: 'up' as const,
      okStreak: 1,
      failStreak: 0,
      lastError: null,
      lastCheck: '2024-03-01T00:00:05.000Z',
      latencyMs: 3,
    };
    await repos(store).health.putViews(new Map([['edge-1', v]]), 30);
    const r = raw();
    assert.deepEqual(JSON.parse((await r.get(keys.healthView('edge-1', 'gslb-a:1'))) ?? 'null'), v);
    const ttl = await r.ttl('cdn:health:edge-1:gslb-a:1');
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);
    assert.deepEqual(await repos(store).health.loadViews(['edge-1']), new Map([['edge-1', [v]]]));

    assert.equal(await repos(store).health.acquireLock('health', 'gslb-a:1', 10_000), true);
    assert.equal(await r.get('cdn:lock:health'), 'gslb-a:1');
    const pttl = await r.pttl('cdn:lock:health');
    assert.ok(pttl > 0 && pttl <= 10_000, `pttl ${pttl}`);
    await repos(store).health.releaseLock('health', 'gslb-a:1');
    assert.equal(await r.exists('cdn:lock:health'), 0);
  });

  it('refuses an unreadable policy document instead of serving the default', async () => {
    await raw().set(keys.policy, '{"chain": []}');
    const store = await open();
    await assert.rejects(
      snapshotSource(repos(store)).loadState('z.'),
      /cdn:gslb:policy is unreadable/,
    );
    await assert.rejects(repos(store).policy.get(), /unreadable/);
    await raw().set(keys.policy, '{}');
    assert.deepEqual(
      (await snapshotSource(repos(store)).loadState('z.')).policy,
      policy({ pools: {}, defaultPool: null }),
    );
  });

  it('skips an unreadable domain record instead of failing the whole load', async () => {
    const r = raw();
    await r.set(keys.domain('bad.example.com'), '{not json');
    await r.sadd(keys.domains, 'bad.example.com', 'missing.example.com');
    const store = await open();
    await repos(store).domains.put(domain('good.example.com'));
    assert.deepEqual((await snapshotSource(repos(store)).loadState('z.')).domains, [
      domain('good.example.com'),
    ]);
    assert.equal(await repos(store).domains.get('bad.example.com'), undefined);
  });

  it('turns a foreign `PUBLISH cdn:cname:dirty 1` into a remote change of everything', async () => {
    const store = await open();
    const change = nextChange(store, (c) => c.origin === 'remote');
    await raw().publish(channels.dirty, '1');
    assert.deepEqual(await change, { kind: 'all', origin: 'remote' });
  });

  it('announces another instance’s writes as remote changes of the right kind', async () => {
    const reader = await open();
    const writer = await open();
    const change = nextChange(reader, (c) => c.origin === 'remote');
    await repos(writer).nodes.put(node('edge-1'));
    assert.deepEqual(await change, { kind: 'nodes', origin: 'remote' });
    assert.deepEqual(await repos(reader).nodes.get('edge-1'), node('edge-1'));

    const unknown = nextChange(reader, (c) => c.origin === 'remote');
    await raw().publish(channels.dirty, JSON.stringify({ kind: 'certs' }));
    assert.deepEqual(await unknown, { kind: 'all', origin: 'remote' });
  });

  it('gives two instances one serial for the same content', async () => {
    const a = await open();
    const b = await open();
    assert.equal(await repos(a).serials.advance('z.', 'h0', 100), 100);
    const [sa, sb] = await Promise.all([
      repos(a).serials.advance('z.', 'h1', 100),
      repos(b).serials.advance('z.', 'h1', 100),
    ]);
    assert.equal(sa, 101);
    assert.equal(sb, 101);
    assert.equal(await repos(b).serials.advance('z.', 'h2', 0), 102);
    assert.equal(await repos(a).serials.advance('z.', 'h2', 0), 102);
  });

  it('re-runs the serial script after SCRIPT FLUSH', async () => {
    const store = await open();
    assert.equal(await repos(store).serials.advance('z.', 'h1', 7), 7);
    await raw().script('FLUSH');
    assert.equal(await repos(store).serials.advance('z.', 'h2', 7), 8);
  });

  it('reconnects after Redis restarts and announces that anything may have changed', async () => {
    const own = await startRedis();
    const store = new RedisStore({ url: own.url });
    stores.push(store);
    try {
      await store.start();
      await repos(store).domains.put(domain('a.example.com'));
      const resync = nextChange(store, (c) => c.origin === 'remote', 8000);
      await own.stop();
      const again = await startRedis({ port: own.port });
      try {
        assert.deepEqual(await resync, { kind: 'all', origin: 'remote' });
        // The restarted server kept nothing (no persistence): the store works on it again.
        assert.deepEqual(await repos(store).domains.list(), []);
        await repos(store).domains.put(domain('b.example.com'));
        assert.deepEqual(await repos(store).domains.list(), [domain('b.example.com')]);
      } finally {
        await store.stop();
        await again.stop();
      }
    } finally {
      await own.stop();
    }
  });

  it('rejects start() quickly against a closed port, naming the URL', async () => {
    const deadUrl = `redis://127.0.0.1:${await freePort()}`;
    const store = new RedisStore({ url: deadUrl });
    stores.push(store);
    const t0 = Date.now();
    await assert.rejects(store.start(), (err: Error) => {
      assert.ok(err.message.includes(deadUrl), err.message);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    await store.stop();
    await store.stop();
  });

  it('does not show the password of the URL in the start error', async () => {
    const store = new RedisStore({ url: `redis://:s3cret@127.0.0.1:${await freePort()}/0` });
    stores.push(store);
    await assert.rejects(store.start(), (err: Error) => {
      assert.ok(!err.message.includes('s3cret'), err.message);
      assert.match(err.message, /127\.0\.0\.1/);
      return true;
    });
  });

  it('refuses commands before start and after stop', async () => {
    const store = new RedisStore({ url: url() });
    await assert.rejects(repos(store).domains.list(), /not started/);
    await store.start();
    await store.stop();
    await assert.rejects(repos(store).domains.list(), /not started/);
  });
});
