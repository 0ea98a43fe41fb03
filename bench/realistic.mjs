// The realistic-traffic suite of bench/gslb.mjs (bench/README.md, "Realistic traffic"):
// bench/loadgen/realgen.c, compiled here with `cc -O2`, replays one resolver-shaped query
// stream (thousands of resolvers, ECS from tens of thousands of subnets, Zipf names, no
// tuple repeated within a TTL's worth of queries) against each server in turn. This module
// decides the stream's parameters and the phases, and reads and prints the results; gslb.mjs
// starts the servers, pins them and runs the generator. None of the servers may rate-limit
// responses here (NSD runs with `rrl-ratelimit: 0`, gdnsd has no RRL): a stream from 2,048
// resolvers at 20k QPS is what RRL exists to throttle, so a server with RRL on must have it
// off for this suite.
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const envNum = (name, def) => (process.env[name] ? Number(process.env[name]) : def);

export const REAL = {
  servers: (
    process.env.BENCH_REAL_SERVERS ?? 'cirrus,cirrus-batched,node-echo,node-echo-batched,nsd,gdnsd'
  ).split(','),
  warmupSeconds: envNum('BENCH_REAL_WARMUP_SECONDS', 2),
  seconds: envNum('BENCH_REAL_SECONDS', 8),
  latencySeconds: envNum('BENCH_REAL_LATENCY_SECONDS', 5),
  latencyQps: envNum('BENCH_LATENCY_QPS', 20000),
  /** Closed loop at full speed: queries in flight (dnsperf's default is 100). */
  inflight: envNum('BENCH_REAL_INFLIGHT', 200),
  /** The base names' TTL in the exported zone; the stream is a TTL's worth at latencyQps. */
  ttl: 60,
  seed: envNum('BENCH_REAL_SEED', 7),
  resolvers: 2048,
  addresses: 512,
  sockets: 4,
  subnets4: 40000,
  subnets6: 20000,
  ecsShare: 0.6,
  cookieShare: 0.5,
};

/** Compiles the generator into dir; returns its path. */
export function compileRealgen(dir) {
  const out = join(dir, 'realgen');
  execFileSync('cc', ['-O2', '-o', out, resolve(HERE, 'loadgen/realgen.c')], { stdio: 'inherit' });
  return out;
}

/** The generator's arguments for one server: its port, the names, the pids whose CPU counts. */
export function realgenArgs({ port, namesFile, zone, pids }) {
  // The warm-up is closed-loop too: a server slower than the fixed rate would otherwise
  // carry a backlog of stale queries into the measured phases.
  const phases = [
    `warmup:max:${REAL.inflight}:${REAL.warmupSeconds}`,
    `max:max:${REAL.inflight}:${REAL.seconds}`,
    `fixed:rate:${REAL.latencyQps}:${REAL.latencySeconds}`,
  ];
  return [
    ...['--port', String(port), '--names', namesFile, '--nx-zone', zone],
    ...['--seed', String(REAL.seed), '--window', String(REAL.ttl * REAL.latencyQps)],
    ...['--resolvers', String(REAL.resolvers), '--addresses', String(REAL.addresses)],
    ...['--sockets', String(REAL.sockets), '--subnets4', String(REAL.subnets4)],
    ...['--subnets6', String(REAL.subnets6), '--ecs', String(REAL.ecsShare)],
    ...['--cookies', String(REAL.cookieShare), '--phases', phases.join(',')],
    ...['--cpu-pids', pids.join(',')],
  ];
}

/** The generator's JSON line → { stream, warmup, max, fixed }. */
export function readRealgen(text) {
  const line = text.trim().split('\n').pop();
  const r = JSON.parse(line);
  const out = { stream: r.stream };
  for (const p of r.phases) out[p.name] = p;
  return out;
}

const f0 = (x) => (x === undefined || x < 0 ? '-' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x === undefined || x < 0 ? '-' : x.toFixed(1));
const f3 = (x) => (x === undefined || x < 0 ? '-' : x.toFixed(3));
const pc = (x) => `${(x * 100).toFixed(1)} %`;

/** The suite's table and notes, as Markdown lines. */
export function realisticTable(results) {
  const rows = Object.entries(results).filter(([, x]) => x.realistic);
  if (!rows.length) return [];
  const s = rows[0][1].realistic.stream;
  const out = [
    '',
    `Realistic traffic (bench/loadgen/realgen.c): ${f0(s.resolvers)} resolvers on ${s.sourceAddresses} loopback addresses × ${s.sockets} sockets; ` +
      `stream of ${f0(s.queries)} queries (no (resolver, name, type, subnet) twice: ${REAL.ttl} s × ${f0(REAL.latencyQps)} QPS); ` +
      `ECS ${pc(s.ecsShare)} from ${f0(s.distinctSubnets)} subnets (/24 and /56); cookies ${pc(s.cookieShare)}; ` +
      `A/AAAA/NX ${pc(s.aShare)}/${pc(s.aaaaShare)}/${pc(s.nxShare)}; Zipf(1.0) over ${f0(s.names)} names, top 10 = ${pc(s.top10NameShare)} of name queries after the TTL cap`,
    '',
    `| server | max QPS | CPU µs/q | lost | p50 @${REAL.latencyQps / 1000}k | p99 @${REAL.latencyQps / 1000}k | p99.9 @${REAL.latencyQps / 1000}k | CPU µs/q @${REAL.latencyQps / 1000}k | QPS reached @${REAL.latencyQps / 1000}k (lost) | NX answers | generator µs/q (max, @${REAL.latencyQps / 1000}k) |`,
    '| ------ | ------: | -------: | ---: | ------: | ------: | --------: | ---------: | ------: | ---------: | -------------------: |',
  ];
  for (const [name, x] of rows) {
    const { max, fixed } = x.realistic;
    out.push(
      `| ${name} | ${f0(max.qps)} | ${f1(max.serverCpuUsPerQuery)} | ${f0(max.lost)} | ${f3(fixed.p50Ms)} | ${f3(fixed.p99Ms)} | ${f3(fixed.p999Ms)} | ${f1(fixed.serverCpuUsPerQuery)} | ${f0(fixed.qps)} (${f0(fixed.lost)}) | ${pc(max.answered ? max.nxdomain / max.answered : 0)} | ${f1(max.genCpuUsPerQuery)}, ${f1(fixed.genCpuUsPerQuery)} |`,
    );
  }
  for (const [name, x] of rows) {
    const u = x.realistic.udp;
    if (!u) continue;
    const mean =
      u.batches > 0 ? `, ${(u.datagrams / u.batches).toFixed(1)} datagrams per batch` : '';
    out.push(
      '',
      `${name}: ${f0(u.shed)} queries shed (load shedding) over the three phases${mean}`,
    );
    const asked = (u.exactHits ?? 0) + (u.exactMisses ?? 0);
    if (asked > 0)
      out.push(
        '',
        `${name} answer caches over the three phases: exact ${pc((u.exactHits ?? 0) / asked)} of ${f0(asked)} lookups; ` +
          `decision-keyed ${pc((u.decisionHits ?? 0) / Math.max(1, (u.decisionHits ?? 0) + (u.decisionMisses ?? 0)))} of the ${f0((u.decisionHits ?? 0) + (u.decisionMisses ?? 0))} the exact one missed; ` +
          `${pc(((u.exactHits ?? 0) + (u.decisionHits ?? 0)) / asked)} of queries answered from a cache`,
      );
  }
  // The batched UDP path (recvmmsg/sendmmsg addon) against node:dgram, in the same run.
  for (const base of ['cirrus', 'node-echo']) {
    const dgram = results[base]?.realistic?.max;
    const batched = results[`${base}-batched`]?.realistic?.max;
    if (!dgram || !batched) continue;
    out.push(
      '',
      `${base}-batched against ${base} (node:dgram): max QPS ${(batched.qps / dgram.qps).toFixed(2)}×, CPU µs/query ${f1(dgram.serverCpuUsPerQuery)} → ${f1(batched.serverCpuUsPerQuery)} (${(batched.serverCpuUsPerQuery - dgram.serverCpuUsPerQuery).toFixed(1)} µs)`,
    );
  }
  return out;
}
