// Control-plane faults against a real redis-server: a FLUSHALL under DNS load is held by the
// publish gate (no name turns NXDOMAIN) until released; writes that would drain a pool are
// refused unless forced; a restart while Redis is unreachable serves the last-known-good
// file at once and catches up when Redis returns; a corrupt file is set aside.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import { createToken } from '../../src/auth/tokens.js';
import { readLastKnownGood } from '../../src/snapshot/last-known-good.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { UdpResolver } from '../helpers/dns-udp.js';
import { finishConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/lib/logger.js';
import { Cirrus } from '../../src/server.js';
import { dig } from '../helpers/dig.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const ZONE = 'cdn.example.net';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NODES = [
  { id: 'fra-1', ipv4: '192.0.2.11', pool: 'fra' },
  { id: 'fra-2', ipv4: '192.0.2.12', pool: 'fra' },
  { id: 'iad-1', ipv4: '192.0.2.21', pool: 'iad' },
  { id: 'iad-2', ipv4: '192.0.2.22', pool: 'iad' },
];

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/** Creates the fleet and `n` domains through the API; returns the base names. */
async function populate(run: RunningCirrus, n: number): Promise<string[]> {
  const nodes = await api(run, 'PUT', '/api/v1/nodes', NODES);
  assert.equal(nodes.status, 200, JSON.stringify(nodes.json));
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: `site${i}.example.com`,
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    names.push(res.json.cname as string);
  }
  return names;
}

/**
 * Cirrus as startCirrus runs it, but without the test token (a token needs the store, which
 * may be unreachable here): healthz and metrics need none.
 */
async function startWithoutToken(raw: Record<string, unknown>): Promise<RunningCirrus> {
  const config = finishConfig(
    {
      seed: { dir: null },
      log: { level: 'silent' },
      health: { probe: { type: 'none' } },
      api: { listen: '127.0.0.1:0' },
      dns: { listen: ['127.0.0.1:0'] },
      ...raw,
    },
    'test config',
  );
  const cirrus = new Cirrus({ config, logger: silentLogger() });
  await cirrus.start();
  const addr = cirrus.apiAddress as { host: string; port: number };
  return {
    cirrus,
    config,
    dnsPort: (cirrus.dnsAddresses[0] as { port: number }).port,
    apiUrl: `http://${addr.host}:${addr.port}`,
    token: '',
    stop: () => cirrus.stop(),
  };
}

describe('publish gate on a real redis-server', () => {
  let redis: RedisServer;
  let a: RunningCirrus;
  let b: RunningCirrus;
  let names: string[];

  before(async () => {
    redis = await startRedis();
    const gate = { snapshot: { gate: { recheckMs: 200 } } };
    a = await startCirrus(gate, new RedisStore({ url: redis.url }));
    b = await startCirrus(gate, new RedisStore({ url: redis.url }));
    names = await populate(a, 30);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('a single write that would drain a pool gets 409; with force it goes through everywhere', async () => {
    const refused = await api(a, 'DELETE', '/api/v1/nodes/iad-1');
    assert.equal(refused.status, 204, 'one node of two: within bounds');
    const drain = await api(a, 'DELETE', '/api/v1/nodes/iad-2');
    assert.equal(drain.status, 409, JSON.stringify(drain.json));
    assert.equal(drain.json.error, 'BLAST_RADIUS');
    assert.match(drain.json.message, /pool-drained: every node of pool iad/);
    assert.ok(await a.cirrus.repos.nodes.get('iad-2'), 'nothing was written');
    const forced = await api(a, 'DELETE', '/api/v1/nodes/iad-2?force=true');
    assert.equal(forced.status, 204);
    // B was not asked: the release marker admits the forced result there too.
    await until('B publishing the forced delete', 3000, async () => {
      const h = (await api(b, 'GET', '/healthz')).json;
      return h.nodes === 2 && !h.held ? h : undefined;
    });
    assert.equal((await api(a, 'GET', '/healthz')).json.status, 'ok');
    // Restore the fleet for the next test: growth is never held.
    assert.equal((await api(a, 'PUT', '/api/v1/nodes', NODES)).status, 200);
  });

  it('a deliberate bulk replace with force goes through', async () => {
    const keep = NODES.filter((n) => n.pool === 'fra');
    const refused = await api(a, 'PUT', '/api/v1/nodes', keep);
    assert.equal(refused.status, 409);
    assert.match(refused.json.message, /pool-drained/);
    const forced = await api(a, 'PUT', '/api/v1/nodes?force=true', keep);
    assert.equal(forced.status, 200);
    assert.equal(a.cirrus.snapshots.current.nodes.length, 2);
    assert.equal((await api(a, 'PUT', '/api/v1/nodes', NODES)).status, 200);
  });

  it('FLUSHALL under DNS load: every name keeps its answer, /healthz shows the hold, release publishes it', async () => {
    await until('B serving every name', 3000, async () =>
      b.cirrus.snapshots.current.domains.size === 30 ? true : undefined,
    );
    const resolver = new UdpResolver(a.dnsPort);
    const counts = { answered: 0, nxdomain: 0, other: 0 };
    let loading = true;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        const batch = names.map((n) => resolver.query(n, 1).catch(() => undefined));
        for (const r of await Promise.all(batch)) {
          if (!r) counts.other++;
          else if (r.rcode === 3) counts.nxdomain++;
          else if (r.rcode === 0 && r.answers.length > 0) counts.answered++;
          else counts.other++;
        }
      }
    })();
    await sleep(300);
    const cli = new Redis(redis.url);
    await cli.flushall();
    // The next writer's event (any write publishes on this channel) makes every instance rebuild.
    await cli.publish('cdn:cname:dirty', JSON.stringify({ kind: 'all' }));
    // The test token went with the flush.
    const { token } = await createToken(a.cirrus.repos, 'after-flush');
    const aa = { ...a, token };
    const health = await until('A reporting the held change', 3000, async () => {
      const h = (await api(aa, 'GET', '/healthz')).json;
      return h.held ? h : undefined;
    });
    await sleep(700);
    loading = false;
    await load;
    await resolver.close();
    assert.equal(counts.nxdomain, 0, JSON.stringify(counts));
    assert.equal(counts.other, 0, JSON.stringify(counts));
    assert.ok(counts.answered > 300, JSON.stringify(counts));
    assert.equal(health.status, 'degraded');
    assert.ok(health.held.reasons.includes('store-emptied'), JSON.stringify(health));
    assert.match(health.held.message, /store-emptied: the store holds no domain and no node/);
    assert.equal(health.domains, 30, 'the live snapshot still serves');
    assert.ok(b.cirrus.snapshots.heldChange, 'B holds it too');
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    assert.match(metrics, /cirrus_snapshot_held\{reason="store-emptied"\} 1/);

    const held = await api(aa, 'GET', '/api/v1/snapshot/held');
    assert.equal(held.json.held, true);
    assert.equal(held.json.domains, 0);

    const released = await api(aa, 'POST', '/api/v1/snapshot/release');
    assert.equal(released.status, 200);
    assert.equal(released.json.held, false);
    assert.equal((await dig(a.dnsPort, [names[0] as string, 'A'])).status, 'NXDOMAIN');
    await until('B publishing the release', 3000, async () =>
      b.cirrus.snapshots.current.domains.size === 0 ? true : undefined,
    );
    assert.equal((await api(aa, 'GET', '/healthz')).json.status, 'ok');
    await cli.quit();
  });
});

describe('last-known-good on a real redis-server', () => {
  let redis: RedisServer;
  let relay: TcpRelay;
  let dir: string;
  let lkgFile: string;
  const running: RunningCirrus[] = [];

  before(async () => {
    redis = await startRedis();
    relay = new TcpRelay(await freePort(), redis.port);
    await relay.open();
    dir = mkdtempSync(join(tmpdir(), 'cirrus-lkg-'));
    lkgFile = join(dir, 'data', 'last-known-good.lkg');
  });
  after(async () => {
    for (const r of running) await r.stop();
    await relay?.cut();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const viaRelay = () => ({
    store: { redisUrl: `redis://127.0.0.1:${relay.port}`, file: null },
    snapshot: { debounceMs: 5, maxDelayMs: 50, lkgFile },
  });

  it('a restart while Redis is unreachable answers from the file at once; Redis back, a change made meanwhile arrives', async () => {
    const first = await startCirrus(viaRelay());
    running.push(first);
    const names = await populate(first, 5);
    const serial = first.cirrus.snapshots.current.serial;
    await until('the file holding the live serial', 5000, async () => {
      if (!existsSync(lkgFile)) return undefined;
      const r = await readLastKnownGood(lkgFile, ZONE);
      return r.found && r.lkg.recipe.serial === serial ? true : undefined;
    });
    const before = await dig(first.dnsPort, [names[0] as string, 'A']);
    await first.stop();
    running.pop();

    await relay.cut();
    const t0 = Date.now();
    // With a DNS worker: it answers UDP from the recipe the main process read from the file.
    const second = await startWithoutToken({
      ...viaRelay(),
      dns: { listen: ['127.0.0.1:0'], workers: 1 },
    });
    running.push(second);
    const startMs = Date.now() - t0;
    const answer = await dig(second.dnsPort, [names[0] as string, 'A']);
    assert.equal(answer.status, 'NOERROR');
    assert.deepEqual(answer.answer, before.answer);
    const soa = await dig(second.dnsPort, [ZONE, 'SOA']);
    assert.equal(Number(soa.answer[0]?.split(' ')[6]), serial);
    const health = (await fetch(`${second.apiUrl}/healthz`).then((r) => r.json())) as Record<
      string,
      unknown
    >;
    assert.equal(health.source, 'last-known-good');
    assert.equal(health.storeReachable, false);
    assert.equal(health.status, 'degraded');
    assert.equal(health.domains, 5);
    const metrics = await (await fetch(`${second.apiUrl}/metrics`)).text();
    assert.match(metrics, /cirrus_snapshot_from_last_known_good 1/);
    // Without waiting for Redis: the time is the worker's start on a shared machine.
    assert.ok(startMs < 15_000, `started in ${startMs} ms`);

    // Another instance, on Redis directly, writes while this one cannot reach it.
    const other = await startCirrus({}, new RedisStore({ url: redis.url }));
    running.push(other);
    const made = await api(other, 'POST', '/api/v1/domains', {
      domain: 'meanwhile.example.com',
      origins: [{ address: '203.0.113.9' }],
    });
    assert.equal(made.status, 201);
    assert.equal((await dig(second.dnsPort, [made.json.cname, 'A'])).status, 'NXDOMAIN');

    await relay.open();
    await until('the change made meanwhile answered', 8000, async () => {
      const r = await dig(second.dnsPort, [made.json.cname, 'A']);
      return r.status === 'NOERROR' && r.answer.length > 0 ? r : undefined;
    });
    const back = (await fetch(`${second.apiUrl}/healthz`).then((r) => r.json())) as Record<
      string,
      unknown
    >;
    assert.equal(back.source, 'store');
    assert.equal(back.storeReachable, true);
    assert.equal(back.status, 'ok');
  });

  it('a corrupt file is set aside and reported, never served', async () => {
    for (const r of running.splice(0)) await r.stop();
    writeFileSync(lkgFile, 'cirrus-last-known-good but not really\n{}');
    await relay.cut();
    await assert.rejects(startWithoutToken(viaRelay()), /cannot connect to Redis/);
    const aside = readdirSync(join(dir, 'data')).filter((f) => f.includes('.corrupt-'));
    assert.equal(aside.length, 1, readdirSync(join(dir, 'data')).join(' '));
    assert.equal(existsSync(lkgFile), false);

    writeFileSync(lkgFile, Buffer.from('not even a header'));
    await relay.open();
    const run = await startCirrus(viaRelay());
    running.push(run);
    const health = (await fetch(`${run.apiUrl}/healthz`).then((r) => r.json())) as Record<
      string,
      unknown
    >;
    assert.equal(health.source, 'store');
    assert.match(String(health.lastKnownGoodProblem), /set aside as .*\.corrupt-/);
  });
});

describe('instances on one redis-server', () => {
  let redis: RedisServer;
  let a: RunningCirrus;
  let b: RunningCirrus;

  before(async () => {
    redis = await startRedis();
    const instances = { intervalMs: 200, ttlSec: 2, disagreeAfterSec: 1 };
    // A publishes whatever the store holds; B's gate holds a mass delete, so B goes stale.
    a = await startCirrus({
      health: { probe: { type: 'none' }, instanceId: 'cirrus-a' },
      snapshot: { instances, gate: { enabled: false } },
      store: { redisUrl: redis.url, file: null },
    });
    b = await startCirrus({
      health: { probe: { type: 'none' }, instanceId: 'cirrus-b' },
      snapshot: { instances },
      store: { redisUrl: redis.url, file: null },
    });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('lists every instance agreeing, then shows one stale in the API and the metric', async () => {
    await populate(a, 10);
    const agreed = await until('both instances reporting the same content', 5000, async () => {
      const list = (await api(a, 'GET', '/api/v1/instances')).json as Array<{
        id: string;
        serial: number;
        agrees: boolean;
      }>;
      return list.length === 2 && list.every((i) => i.agrees) && list[0]?.serial === list[1]?.serial
        ? list
        : undefined;
    });
    assert.deepEqual(
      agreed.map((i) => i.id),
      ['cirrus-a', 'cirrus-b'],
    );

    const store = a.cirrus.repos.domains;
    for (let i = 0; i < 8; i++) await store.delete(`site${i}.example.com`);
    await until('B holding the mass delete', 3000, async () =>
      b.cirrus.snapshots.heldChange ? true : undefined,
    );
    // A third instance joins on A's side: A and it are the majority, B is stale.
    const c = await startCirrus({
      health: { probe: { type: 'none' }, instanceId: 'cirrus-c' },
      snapshot: { instances: { intervalMs: 200, ttlSec: 2, disagreeAfterSec: 1 } },
      store: { redisUrl: redis.url, file: null },
    });
    try {
      const list = await until('B shown off the majority for over 1 s', 6000, async () => {
        const l = (await api(a, 'GET', '/api/v1/instances')).json as Array<{
          id: string;
          agrees: boolean;
          disagreeingSeconds: number;
          ageSeconds: number;
          self: boolean;
        }>;
        const stale = l.find((i) => i.id === 'cirrus-b');
        return l.length === 3 && stale && !stale.agrees && stale.disagreeingSeconds >= 1
          ? l
          : undefined;
      });
      assert.deepEqual(
        list.map((i) => [i.id, i.agrees, i.self]),
        [
          ['cirrus-a', true, true],
          ['cirrus-b', false, false],
          ['cirrus-c', true, false],
        ],
      );
      assert.ok(list.every((i) => i.ageSeconds < 2));
      const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
      assert.match(metrics, /^cirrus_instances_disagreeing 1$/m);
    } finally {
      await c.stop();
    }
    // Released from the command line (it writes the marker in Redis; B looks for it while
    // holding): B catches up and the disagreement ends; C's key expires.
    const cli = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'snapshot', 'release'],
      {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_URL: redis.url },
      },
    );
    assert.match(cli.stderr, /release requested/);
    await until('every instance agreeing again, C gone', 6000, async () => {
      const l = (await api(a, 'GET', '/api/v1/instances')).json as Array<{ agrees: boolean }>;
      return l.length === 2 && l.every((i) => i.agrees) ? l : undefined;
    });
    const metrics = await (await fetch(`${a.apiUrl}/metrics`)).text();
    assert.match(metrics, /^cirrus_instances_disagreeing 0$/m);
  });
});
