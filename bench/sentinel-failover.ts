// A Sentinel failover under load (issue 15): a real master, one replica and SENTINELS
// redis-sentinel processes on loopback, two Cirrus instances following them; QPS UDP queries
// a second against the first instance and an API write every 100 ms through it; the master
// is SIGKILLed. Reports, per run: time to the promotion (sentinels), time to the first
// accepted API write issued after the kill, 503s meanwhile, DNS queries sent and lost,
// acknowledged writes missing on the new master (expect 0 and 0).
// `node --import tsx bench/sentinel-failover.ts [RUNS] [QPS] [SENTINELS]` (default 3 500 3).
import { Redis } from 'ioredis';
import { api, startCirrus } from '../test/helpers/cirrus.js';
import { startSentinelSet } from '../test/helpers/redis-sentinel.js';
import { runFailover } from '../test/helpers/sentinel-failover.js';
import { UdpResolver } from '../test/helpers/dns-udp.js';

const runs = Number(process.argv[2] ?? 3);
const qps = Number(process.argv[3] ?? 500);
const sentinels = Number(process.argv[4] ?? 3);

async function once(i: number): Promise<Record<string, number>> {
  const set = await startSentinelSet({ sentinels });
  const config = (id: string) => ({
    store: { file: null, sentinel: { addresses: set.addresses, name: set.name } },
    health: { instanceId: id, lockTtlMs: 3000, probe: { type: 'none' as const } },
    log: { level: 'silent' as const },
  });
  const a = await startCirrus(config('a'));
  const b = await startCirrus(config('b'));
  try {
    await api(a, 'PUT', '/api/v1/nodes', [{ id: 'fra-1', ipv4: '192.0.2.11', pool: 'fra' }]);
    const site = await api(a, 'POST', '/api/v1/domains', {
      domain: 'steady.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    const name = site.json.cname as string;
    const r = new UdpResolver(a.dnsPort);
    while ((await r.query(name)).answers.length === 0) await new Promise((s) => setTimeout(s, 50));
    await r.close();
    const run = await runFailover({ set, a, b, name, qps, beforeMs: 2000, afterMs: 2000 });
    const master = new Redis({ host: '127.0.0.1', port: await set.currentMasterPort() });
    const stored = new Set(await master.smembers('cdn:domains'));
    master.disconnect();
    const row = {
      run: i,
      promotedMs: run.promotedMs,
      firstAcceptedMs: run.firstAcceptedMs,
      writesIssued: run.writes.issued,
      writesAccepted: run.writes.accepted,
      writes503: run.writes.refused503,
      writesOther: run.writes.other.length,
      ackedMissing: run.acked.filter((d) => !stored.has(d)).length,
      dnsSent: run.dns.sent,
      dnsLost: run.dns.lost,
      dnsNotNoerror: run.dns.notNoerror,
      bothLeaders: run.leaderBoth,
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await b.stop();
    await a.stop();
    await set.stop();
  }
}

const rows: Record<string, number>[] = [];
for (let i = 1; i <= runs; i++) rows.push(await once(i));
const col = (k: string) => rows.map((r) => r[k]).join(', ');
console.log(`\n${runs} runs, ${qps} QPS, ${sentinels} sentinel(s), down-after 1000 ms:`);
for (const k of Object.keys(rows[0] ?? {}).filter((k) => k !== 'run'))
  console.log(`${k.padEnd(16)} ${col(k)}`);
