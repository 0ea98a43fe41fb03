// One Sentinel failover under load, shared by test/integration/redis-sentinel.test.ts and
// bench/sentinel-failover.ts: two Cirrus instances on the same sentinels, UDP queries at a
// steady rate against the first, an API write every `writeEveryMs` through it, the health
// leader sampled on both; the master is SIGKILLed and the run goes on until writes have
// been accepted again for `afterMs`.
import { UdpResolver } from './dns-udp.js';
import { api, type RunningCirrus } from './cirrus.js';
import type { SentinelSet } from './redis-sentinel.js';

export interface FailoverRun {
  dns: { sent: number; answered: number; lost: number; notNoerror: number };
  writes: { issued: number; accepted: number; refused503: number; other: string[] };
  /** Domains whose POST answered 2xx, in order. */
  acked: string[];
  /** Their CNAME targets, same order. */
  ackedCnames: string[];
  /** SIGKILL → the sentinels report the replica as master. */
  promotedMs: number;
  /** SIGKILL → the first write issued after it that was accepted. */
  firstAcceptedMs: number;
  /** Samples (every 50 ms) where both instances said they led health, and where none did. */
  leaderBoth: number;
  leaderNone: number;
  samples: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFailover(opts: {
  set: SentinelSet;
  a: RunningCirrus;
  b: RunningCirrus;
  /** A name that must keep its answer. */
  name: string;
  qps: number;
  writeEveryMs?: number;
  beforeMs?: number;
  afterMs?: number;
  prefix?: string;
}): Promise<FailoverRun> {
  const { set, a, b } = opts;
  const out: FailoverRun = {
    dns: { sent: 0, answered: 0, lost: 0, notNoerror: 0 },
    writes: { issued: 0, accepted: 0, refused503: 0, other: [] },
    acked: [],
    ackedCnames: [],
    promotedMs: -1,
    firstAcceptedMs: -1,
    leaderBoth: 0,
    leaderNone: 0,
    samples: 0,
  };
  let running = true;
  let killedAt = 0;

  // DNS: a query every 1000/qps ms, sent in batches every 10 ms; each one waits 2 s.
  const resolver = new UdpResolver(a.dnsPort);
  const inflight = new Set<Promise<void>>();
  const dnsLoop = (async () => {
    const perTick = opts.qps / 100;
    let owed = 0;
    while (running) {
      owed += perTick;
      for (; owed >= 1; owed--) {
        out.dns.sent++;
        const p = resolver.query(opts.name, 1, 2000).then(
          (r) => {
            out.dns.answered++;
            if (r.rcode !== 0 || r.answers.length === 0) out.dns.notNoerror++;
          },
          () => {
            out.dns.lost++;
          },
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await sleep(10);
    }
  })();

  // Writes: one POST every writeEveryMs, not waiting for the previous one.
  const writes = new Set<Promise<void>>();
  const prefix = opts.prefix ?? 'fo';
  const writeLoop = (async () => {
    for (let i = 0; running; i++) {
      const domain = `${prefix}${i}.example.com`;
      out.writes.issued++;
      const issuedAfterKill = killedAt > 0;
      const p = api(a, 'POST', '/api/v1/domains', {
        domain,
        origins: [{ address: '203.0.113.9' }],
      }).then(
        (res) => {
          if (res.status >= 200 && res.status < 300) {
            out.writes.accepted++;
            out.acked.push(domain);
            out.ackedCnames.push(res.json.cname as string);
            if (issuedAfterKill && out.firstAcceptedMs < 0)
              out.firstAcceptedMs = Date.now() - killedAt;
          } else if (res.status === 503) out.writes.refused503++;
          else out.writes.other.push(`${res.status} ${JSON.stringify(res.json)}`);
        },
        (err: unknown) => {
          out.writes.other.push(String(err));
        },
      );
      writes.add(p);
      void p.finally(() => writes.delete(p));
      await sleep(opts.writeEveryMs ?? 100);
    }
  })();

  const leaderLoop = (async () => {
    while (running) {
      const la = a.cirrus.health.status().leader;
      const lb = b.cirrus.health.status().leader;
      out.samples++;
      if (la && lb) out.leaderBoth++;
      if (!la && !lb) out.leaderNone++;
      await sleep(50);
    }
  })();

  try {
    await sleep(opts.beforeMs ?? 1500);
    const before = await set.currentMasterPort();
    killedAt = Date.now();
    set.killMaster();
    for (;;) {
      const now = await set.currentMasterPort().catch(() => before);
      if (now !== before) break;
      if (Date.now() - killedAt > 30_000) throw new Error('no promotion within 30 s');
      await sleep(20);
    }
    out.promotedMs = Date.now() - killedAt;
    while (out.firstAcceptedMs < 0) {
      if (Date.now() - killedAt > 30_000) throw new Error('no write accepted within 30 s');
      await sleep(20);
    }
    await sleep(opts.afterMs ?? 1500);
  } finally {
    running = false;
    await Promise.all([dnsLoop, writeLoop, leaderLoop]);
    await Promise.allSettled([...inflight, ...writes]);
    await resolver.close();
  }
  return out;
}
