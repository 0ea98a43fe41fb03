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
    const leaderBefore = a.cirrus.health.status().leader ? 'cirrus-a' : 'cirrus-b';
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

      // The health lock: never two leaders; the holder kept it across the failover.
      assert.equal(run.leaderBoth, 0, summary);
      assert.equal(await master.get('cdn:lock:health'), leaderBefore);
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
});
