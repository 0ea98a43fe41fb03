// Redis Sentinel with real redis-server and redis-sentinel processes: a master, a replica and
// three sentinels (quorum 2); two Cirrus instances follow the master through the sentinels.
// The master is SIGKILLed under DNS load and an API write every 100 ms: no DNS answer is
// lost, writes resume after the promotion, every acknowledged write is on the new master,
// the other instance rebuilds from pub/sub, and the health and ACME locks keep one holder.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel.js';
import { runFailover } from '../helpers/sentinel-failover.js';
import { UdpResolver } from '../helpers/dns-udp.js';
import { eventually } from '../helpers/wait.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { get, startEdge } from '../helpers/nginx-edge.js';

/** A loopback origin that answers with its name. */
async function origin(name: string): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': name.length + 1 });
    res.end(`${name}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, server };
}

const NODES = [
  { id: 'fra-1', ipv4: '192.0.2.11', pool: 'fra' },
  { id: 'fra-2', ipv4: '192.0.2.12', pool: 'fra' },
];

describe('Redis Sentinel failover', { timeout: 120_000 }, () => {
  let set: SentinelSet;
  let a: RunningCirrus;
  let b: RunningCirrus;

  const viaSentinels = (id: string) => ({
    store: { file: null, sentinel: { addresses: set.addresses, name: set.name } },
    // Two instances of one process: distinct ids, and a short lock so leadership is re-taken
    // within the test if it were lost.
    health: { instanceId: id, lockTtlMs: 3000, probe: { type: 'none' as const } },
  });

  before(async () => {
    set = await startSentinelSet({ sentinels: 3 });
    a = await startCirrus(viaSentinels('cirrus-a'));
    b = await startCirrus(viaSentinels('cirrus-b'));
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await set?.stop();
  });

  it('kill the master: 0 DNS answers lost, writes resume, acknowledged writes kept, one lock holder', async () => {
    const nodes = await api(a, 'PUT', '/api/v1/nodes', NODES);
    assert.equal(nodes.status, 200, JSON.stringify(nodes.json));
    const site = await api(a, 'POST', '/api/v1/domains', {
      domain: 'steady.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(site.status, 201, JSON.stringify(site.json));
    const steady = site.json.cname as string;
    // Both instances serve it before the fault (b through pub/sub).
    for (const run of [a, b]) {
      const r = new UdpResolver(run.dnsPort);
      await eventually(`${steady} on ${run.dnsPort}`, 10_000, async () =>
        (await r.query(steady)).answers.length > 0 ? true : undefined,
      );
      await r.close();
    }
    // One health leader, and an ACME certificate lock held by a before the fault.
    await eventually('one health leader', 10_000, async () =>
      a.cirrus.health.status().leader !== b.cirrus.health.status().leader ? true : undefined,
    );
    assert.equal(
      await a.cirrus.repos.acme.acquireCertLock('steady.example.com', 'a', 60_000),
      true,
    );
    assert.equal(
      await b.cirrus.repos.acme.acquireCertLock('steady.example.com', 'b', 60_000),
      false,
    );

    const run = await runFailover({ set, a, b, name: steady, qps: 300 });
    const summary = JSON.stringify({ ...run, acked: run.acked.length, ackedCnames: undefined });

    // DNS: every query answered, every answer NOERROR with the address.
    assert.ok(run.dns.sent > 500, summary);
    assert.equal(run.dns.lost, 0, summary);
    assert.equal(run.dns.notNoerror, 0, summary);
    // Writes: refused with 503 during the promotion at most, accepted again after it.
    assert.deepEqual(run.writes.other, [], summary);
    assert.ok(run.firstAcceptedMs > 0 && run.firstAcceptedMs < 15_000, summary);
    assert.ok(run.acked.length > 10, summary);

    // Every acknowledged write is on the new master.
    const master = new Redis({ host: '127.0.0.1', port: await set.currentMasterPort() });
    try {
      assert.equal(await set.currentMasterPort(), set.replicaPort);
      const role = (await master.call('ROLE')) as unknown[];
      assert.equal(role[0], 'master');
      const stored = new Set(await master.smembers('cdn:domains'));
      const missing = run.acked.filter((d) => !stored.has(d));
      assert.deepEqual(missing, [], summary);

      // The health lock: never two leaders at once. The holder keeps it when it renews within
      // the lock TTL (3 s here, about the failover's length); else the lock expires on the new
      // master and either instance takes it. Either way one instance leads and holds the key.
      assert.equal(run.leaderBoth, 0, summary);
      const leader = await eventually('one health leader after the failover', 10_000, async () => {
        const la = a.cirrus.health.status().leader;
        const lb = b.cirrus.health.status().leader;
        return la !== lb ? (la ? 'cirrus-a' : 'cirrus-b') : undefined;
      });
      assert.equal(await master.get('cdn:lock:health'), leader);
      // The ACME lock taken before the failover is still a's: b cannot take it, a renews it.
      assert.equal(await master.get('cdn:acme:lock:steady.example.com'), 'a');
      assert.equal(
        await b.cirrus.repos.acme.acquireCertLock('steady.example.com', 'b', 60_000),
        false,
      );
      assert.equal(
        await a.cirrus.repos.acme.acquireCertLock('steady.example.com', 'a', 60_000),
        true,
      );
    } finally {
      master.disconnect();
    }

    // b never wrote: the last domain written through a after the failover reaches b's DNS only
    // through its re-subscribed channel (a pub/sub-driven rebuild).
    const last = run.ackedCnames[run.ackedCnames.length - 1] as string;
    const rb = new UdpResolver(b.dnsPort);
    try {
      await eventually(`${last} on b`, 10_000, async () =>
        (await rb.query(last)).answers.length > 0 ? true : undefined,
      );
    } finally {
      await rb.close();
    }
    const after = await api(b, 'POST', '/api/v1/domains', {
      domain: 'after.example.com',
      origins: [{ address: '203.0.113.2' }],
    });
    assert.equal(after.status, 201, JSON.stringify(after.json));
    const ra = new UdpResolver(a.dnsPort);
    try {
      await eventually('a write through b reaches a', 10_000, async () =>
        (await ra.query(after.json.cname as string)).answers.length > 0 ? true : undefined,
      );
    } finally {
      await ra.close();
    }
  });
  it('the edge (nginx+Lua) asks the sentinels for the master: it serves and follows changes after the failover', async () => {
    // Runs after the failover above: REDIS_URL still names the dead master, only the
    // sentinels know the promoted one.
    assert.notEqual(await set.currentMasterPort(), set.masterPort);
    const o1 = await origin('o1');
    const o2 = await origin('o2');
    const edge = await startEdge({
      redisUrl: `redis://127.0.0.1:${set.masterPort}`,
      node: 'edge-sentinel-1',
      env: {
        REDIS_SENTINELS: set.addresses.join(','),
        REDIS_SENTINEL_NAME: set.name,
        EDGE_CONFIG_TTL: '30',
      },
    });
    try {
      const put = (port: number) =>
        api(a, 'PUT', '/api/v1/domains/edge.example.com', {
          origins: [{ address: '127.0.0.1', port }],
        });
      const created = await api(a, 'POST', '/api/v1/domains', {
        domain: 'edge.example.com',
        origins: [{ address: '127.0.0.1', port: o1.port }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      await eventually('edge serves from o1', 10_000, async () =>
        (await get(edge.http, 'edge.example.com', '/a')).body === 'o1\n' ? true : undefined,
      );
      // A change reaches the edge by its subscription on the new master (the config TTL is 30 s).
      const changed = await put(o2.port);
      assert.equal(changed.status, 200, JSON.stringify(changed.json));
      await eventually('edge serves from o2', 5_000, async () =>
        (await get(edge.http, 'edge.example.com', '/b')).body === 'o2\n' ? true : undefined,
      ).catch((err: Error) => assert.fail(`${err.message}\n${edge.errorLog().slice(-2000)}`));
    } finally {
      await edge.stop();
      o1.server.close();
      o2.server.close();
    }
  });
});
