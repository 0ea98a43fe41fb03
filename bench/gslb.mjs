// The five figures of issue 7 from one run, Cirrus beside NSD, gdnsd and PowerDNS on the
// same machine and the same data (see bench/README.md):
//   1. throughput of full GSLB answers (GeoIP, 30 % of queries with ECS, consistent hash,
//      10,000 domains, 200 nodes in 10 pools) vs NSD's static equivalent, gdnsd's geoip
//      plugin and PowerDNS (static bind zone; LUA records in shared mode);
//   2. latency p50/p99 at a fixed rate (20k QPS);
//   3. snapshot build time at 100,000 domains and 1,000 nodes, and p99 while rebuilding;
//   4. RSS at 100,000 domains, and RSS growth over a soak under load;
//   5. TCP QPS with pipelined queries on persistent connections (dnsperf -m tcp).
// and the realistic-traffic suite (bench/realistic.mjs): the same servers under one
// resolver-shaped query stream from bench/loadgen/realgen.c. BENCH_SUITES picks
// (`gslb,realistic` by default).
// Everything lives in a temp dir; only 127.0.0.1 is queried; only the processes started
// here are stopped. Knobs: see P below and bench/README.md.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGslbSeed, writeCountryCsv, POOLS, nodeOf } from './gslb-seed.mjs';
import { parseSummary, percentile, verboseLatencies } from './dnsperf.mjs';
import { machineCpu, processCpuSeconds, processTree, treeCpuSeconds } from './proc.mjs';
import { REAL, compileRealgen, readRealgen, realgenArgs, realisticTable } from './realistic.mjs';
import {
  CIRRUS_NODE_FLAGS,
  cpuPlan,
  envNum,
  freePort,
  nsdConf,
  ProcessSet,
  sleep,
} from './servers.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/src/cli.js');
const P = {
  domains: envNum('BENCH_DOMAINS', 10000),
  nodes: envNum('BENCH_NODES', 200),
  bigDomains: envNum('BENCH_BIG_DOMAINS', 100000),
  bigNodes: envNum('BENCH_BIG_NODES', 1000),
  seconds: envNum('BENCH_SECONDS', 8),
  latencySeconds: envNum('BENCH_LATENCY_SECONDS', 5),
  latencyQps: envNum('BENCH_LATENCY_QPS', 20000),
  tcpSeconds: envNum('BENCH_TCP_SECONDS', 5),
  soakSeconds: envNum('BENCH_SOAK_SECONDS', 30),
  warmupSeconds: envNum('BENCH_WARMUP_SECONDS', 2),
  ecsShare: 0.3,
  workers: envNum('BENCH_WORKERS', 0), // 0: Cirrus's own default (dns.workers)
  servers: (
    process.env.BENCH_SERVERS ??
    'cirrus,cirrus-batched,node-echo,node-echo-batched,nsd,gdnsd,pdns,pdns-lua'
  ).split(','),
  suites: new Set((process.env.BENCH_SUITES ?? 'gslb,realistic').split(',')),
};
// The realistic suite alone starts only the servers it measures.
if (!P.suites.has('gslb')) P.servers = P.servers.filter((s) => REAL.servers.includes(s));
// Each server on a core of its own, the load generators on the others (taskset): on a
// small machine the scheduler otherwise parks the server behind dnsperf for whole time
// slices, and every server's p99 measures that rather than itself. BENCH_PIN=0 turns it off.
const PLAN = cpuPlan();
const { pin: PIN, serverCpus: SERVER_CPUS, loadCpus: LOAD_CPUS, onCpus } = PLAN;
const DEADLINE_MS = (envNum('BENCH_DEADLINE_SECONDS', 420) - 10) * 1000;
// dnsperf -E: ECS option 8, family 1, source /24, scope 0, 81.2.69.0 (RFC 7871 §6).
const ECS = '8:00011800510245';

const notes = [];
const tmp = mkdtempSync(join(tmpdir(), 'cirrus-gslb-bench-'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const note = (msg) => {
  notes.push(msg);
  log(`NOTE: ${msg}`);
};

// ---------------------------------------------------------------- processes

const procs = new ProcessSet({ tmp, log, plan: PLAN });
const cleanup = procs.exitOnSignalsAndDeadline(DEADLINE_MS);
const remember = (name) => procs.remember(name);
const stop = (names) => procs.stop(names);

function dig(port, ...args) {
  const r = spawnSync('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.status === 0 ? r.stdout : '';
}
/** Starts a server; `pin: false` leaves it on every core (Cirrus with DNS workers). */
function launch(name, cmd, args, opts = {}) {
  return procs.launch(name, cmd, args, opts);
}
async function waitForDns(server, zone, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (procs.exited(server.name))
      throw new Error(
        `${server.name} exited during start-up:\n${readFileSync(server.logFile, 'utf8').slice(-3000)}`,
      );
    // node-echo answers without records: any NOERROR reply will do.
    const ready = server.name.startsWith('node-echo')
      ? /status: NOERROR/.test(dig(server.port, zone, 'SOA'))
      : /\bSOA\b/.test(dig(server.port, '+noall', '+answer', zone, 'SOA'));
    if (ready) {
      remember(server.name);
      return;
    }
    await sleep(200);
  }
  throw new Error(
    `${server.name} did not answer on 127.0.0.1:${server.port} in ${timeoutMs / 1000}s`,
  );
}
function rssMb(pid) {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

// ---------------------------------------------------------------- measuring

/**
 * Runs one load generator on the load CPUs until it exits by itself (SIGKILL after its
 * limit): its output and the CPU it used (polled, as it is gone once it exits).
 */
function runLoad(name, cmd, args, limitSeconds) {
  if (procs.stopping) return Promise.reject(new Error('stopping'));
  const outFile = join(tmp, `${name}.out`);
  const fd = openSync(outFile, 'w');
  const [c, a] = onCpus(LOAD_CPUS, cmd, args);
  const child = spawn(c, a, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  procs.track(name, child);
  let cpu = 0;
  const poll = setInterval(() => (cpu = processCpuSeconds(child.pid) ?? cpu), 100);
  return new Promise((res, rej) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), (limitSeconds + 20) * 1000);
    child.on('error', rej);
    child.on('exit', (code) => {
      clearTimeout(kill);
      clearInterval(poll);
      procs.forget(name);
      const text = readFileSync(outFile, 'utf8');
      if (code !== 0) rej(new Error(`${cmd} exited ${code}:\n${text.slice(-2000)}`));
      else res({ text, cpu });
    });
  });
}

function runDnsperf(tag, port, args, limitSeconds) {
  const argv = ['-s', '127.0.0.1', '-p', String(port), ...args];
  return runLoad(`dnsperf-${tag}`, 'dnsperf', argv, limitSeconds);
}

/**
 * The realistic suite on one server: realgen runs its warm-up, full-speed and fixed-rate
 * phases and reports the server's CPU from the pids of its tree.
 */
async function runRealgen(server, realgen, namesFile, zone) {
  const pids = procs.pids(server.name);
  if (pids.length === 0) pids.push(server.pid);
  const args = realgenArgs({ port: server.port, namesFile, zone, pids });
  const limit = REAL.warmupSeconds + REAL.seconds + REAL.latencySeconds + 10;
  const r = readRealgen((await runLoad(`realgen-${server.name}`, realgen, args, limit)).text);
  for (const p of [r.max, r.fixed]) {
    const other = p.machineProcessCores - p.serverCores - p.genCores;
    if (other > 0.25)
      note(
        `${server.name} realistic ${p.name}: other processes used ${other.toFixed(2)} cores meanwhile`,
      );
    if (p.otherRcode > 0)
      note(
        `${server.name} realistic ${p.name}: ${p.otherRcode} answers neither NOERROR nor NXDOMAIN`,
      );
    log(
      `${server.name} realistic ${p.name}: ${Math.round(p.qps)} QPS, ${p.serverCpuUsPerQuery.toFixed(1)} µs CPU/query, ` +
        `p50 ${p.p50Ms.toFixed(3)} ms p99 ${p.p99Ms.toFixed(3)} ms, lost ${p.lost}, generator ${p.genCpuUsPerQuery.toFixed(1)} µs/query`,
    );
  }
  return r;
}

/**
 * Cirrus's UDP counters from /metrics (shed queries, batches, datagrams) and its answer
 * cache lookups (exact and decision-keyed, hits and misses), or undefined.
 */
async function udpCounters(server) {
  if (!server.api) return undefined;
  try {
    const text = await (await fetch(`http://127.0.0.1:${server.api}/metrics`)).text();
    const value = (name) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    return {
      shed: value('cirrus_dns_shed_total'),
      batches: value('cirrus_dns_udp_batches_total'),
      datagrams: value('cirrus_dns_udp_batch_datagrams_total'),
      ...Object.fromEntries(
        ['exact', 'decision'].flatMap((cache) =>
          ['hit', 'miss'].map((result) => [
            `${cache}${result === 'hit' ? 'Hits' : 'Misses'}`,
            value(`cirrus_dns_answer_cache_lookups_total{cache="${cache}",result="${result}"}`),
          ]),
        ),
      ),
    };
  } catch {
    return undefined;
  }
}

/**
 * Waits (up to 15 s) until the server's tree uses under 5 % of a core: a server that fell
 * behind the fixed rate is still answering its backlog, on the core the next server uses.
 */
async function settle(server) {
  const t0 = Date.now();
  let cpu = treeCpuSeconds(server.pid);
  while (Date.now() - t0 < 15_000) {
    await sleep(200);
    const now = treeCpuSeconds(server.pid);
    if (now - cpu <= 0.01) break;
    cpu = now;
  }
  const seconds = (Date.now() - t0) / 1000;
  if (seconds > 1) log(`${server.name} was busy for ${seconds.toFixed(1)} s after its run`);
  return seconds;
}

/**
 * One measured phase: two dnsperf processes side by side, one plain and one adding ECS,
 * sized so ≈30 % of the queries carry ECS (outstanding-query caps at full speed, rates
 * at a fixed QPS; the share reached is reported). Server CPU from /proc over the phase.
 */
async function phase(server, kind, { seconds, qps, verbose = false, tcp = false, during }) {
  const base = ['-d', server.queries, '-l', String(seconds)];
  if (tcp) base.push('-m', 'tcp');
  if (verbose) base.push('-v');
  const split = (total) => [
    Math.max(1, Math.round(total * (1 - P.ecsShare))),
    Math.max(1, Math.round(total * P.ecsShare)),
  ];
  let plainArgs;
  let ecsArgs;
  if (qps) {
    const [a, b] = split(qps);
    plainArgs = [...base, '-c', '3', '-Q', String(a)];
    ecsArgs = [...base, '-c', '1', '-Q', String(b), '-E', ECS];
  } else {
    const [a, b] = split(tcp ? 200 : 100);
    plainArgs = [...base, '-c', tcp ? '3' : '3', '-q', String(a)];
    ecsArgs = [...base, '-c', '1', '-q', String(b), '-E', ECS];
  }
  const cpu0 = treeCpuSeconds(server.pid);
  const m0 = machineCpu();
  const t0 = process.hrtime.bigint();
  const extra = during ? during() : Promise.resolve(undefined);
  const [plain, ecs] = await Promise.all([
    runDnsperf(`${server.name}-${kind}-plain`, server.port, plainArgs, seconds),
    runDnsperf(`${server.name}-${kind}-ecs`, server.port, ecsArgs, seconds),
  ]);
  const duringResult = await extra;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = treeCpuSeconds(server.pid) - cpu0;
  const m1 = machineCpu();
  const sp = parseSummary(plain.text);
  const se = parseSummary(ecs.text);
  const completed = (sp.completed ?? 0) + (se.completed ?? 0);
  const out = {
    qps: (sp.qps ?? 0) + (se.qps ?? 0),
    completed,
    lost: (sp.lost ?? 0) + (se.lost ?? 0),
    ecsShare: completed ? (se.completed ?? 0) / completed : 0,
    rcodes: { plain: sp.rcodes, ecs: se.rcodes },
    cpuUsPerQuery: completed ? (cpu * 1e6) / completed : undefined,
    serverCores: cpu / wall,
    dnsperfCores: (plain.cpu + ecs.cpu) / wall,
    otherCores: Math.max(0, m1.processes - m0.processes - cpu - plain.cpu - ecs.cpu) / wall,
    interruptCores: (m1.interrupts - m0.interrupts) / wall,
    during: duringResult,
  };
  if (verbose) {
    const all = Float64Array.from([
      ...verboseLatencies(plain.text),
      ...verboseLatencies(ecs.text),
    ]).sort();
    out.p50Ms = percentile(all, 0.5);
    out.p99Ms = percentile(all, 0.99);
  }
  const bad = Object.entries({ ...sp.rcodes }).filter(([k]) => k !== 'NOERROR');
  if (bad.length) note(`${server.name} ${kind}: non-NOERROR answers ${JSON.stringify(sp.rcodes)}`);
  if (out.otherCores > 0.25)
    note(
      `${server.name} ${kind}: other processes used ${out.otherCores.toFixed(2)} cores meanwhile`,
    );
  log(
    `${server.name} ${kind}: ${Math.round(out.qps)} QPS, ${out.cpuUsPerQuery?.toFixed(1)} µs CPU/query` +
      (verbose ? `, p50 ${out.p50Ms?.toFixed(3)} ms p99 ${out.p99Ms?.toFixed(3)} ms` : '') +
      `, ECS share ${(out.ecsShare * 100).toFixed(0)} %, lost ${out.lost}`,
  );
  return out;
}

// ---------------------------------------------------------------- servers

function cirrusEnv(extra) {
  // Response rate limiting off: the load comes from one address (see bench/README.md).
  const env = { ...process.env, LOG_LEVEL: 'warn', DNS_RRL_RATE: '0', ...extra };
  for (const k of ['REDIS_URL', 'CNAME_BASE_DOMAIN']) delete env[k];
  return env;
}

/** gdnsd: the same zone with every base name a DYNA geoip resource over the same .mmdb. */
function gdnsdConfig(dir, port, zone, zoneText, mmdb) {
  mkdirSync(join(dir, 'zones'), { recursive: true });
  mkdirSync(join(dir, 'run'), { recursive: true });
  mkdirSync(join(dir, 'state'), { recursive: true });
  // One address per datacenter, as Cirrus answers one edge: the pool's first node.
  const dcAddr = {};
  for (let i = 1; i <= POOLS.length; i++) dcAddr[nodeOf(i).pool] = nodeOf(i).ipv4;
  const byContinent = {};
  for (const [name, countries, continent] of POOLS) {
    byContinent[continent] ??= [];
    for (const c of countries) byContinent[continent].push(`${c} => [${name}]`);
  }
  const map = Object.entries(byContinent)
    .map(([c, list]) => `          ${c} => { ${list.join(', ')} }`)
    .join('\n');
  writeFileSync(
    join(dir, 'config'),
    `options => {
  listen => [ 127.0.0.1:${port} ]
  run_dir => ${join(dir, 'run')}
  state_dir => ${join(dir, 'state')}
  udp_threads => 1
  tcp_threads => 1
}
plugins => {
  geoip => {
    maps => {
      bench => {
        geoip2_db => ${mmdb}
        datacenters => [${POOLS.map((p) => p[0]).join(', ')}]
        map => {
${map}
        }
      }
    }
    resources => {
      edges => {
        map => bench
        dcmap => { ${Object.entries(dcAddr)
          .map(([dc, ip]) => `${dc} => ${ip}`)
          .join(', ')} }
      }
    }
  }
}
`,
  );
  const lines = [];
  for (const line of zoneText.split('\n')) {
    const m = /^(\S+-example-com\.\S+)\s+(\d+)\s+IN\s+(A|AAAA)\s/.exec(line);
    if (!m) lines.push(line);
    else if (m[3] === 'A') lines.push(`${m[1]}\t${m[2]}\tDYNA\tgeoip!edges`);
  }
  writeFileSync(join(dir, 'zones', zone.replace(/\.$/, '')), lines.join('\n') + '\n');
}

/** PowerDNS with the bind backend; `lua` turns each base name into a LUA record. */
function pdnsConfig(dir, port, zone, zoneText, lua) {
  mkdirSync(dir, { recursive: true });
  let text = zoneText;
  if (lua) {
    // Health-unaware weighted hash over the client (pickwhashed, pdns 4.7): the nearest
    // LUA equivalent of a consistent-hash pick. PowerDNS's country()/continent() need its
    // geoip backend, not installed here; see bench/README.md.
    const pool = [];
    for (let i = 1; i <= 20; i++) pool.push(`{100,'${nodeOf(i).ipv4}'}`);
    const rec = `"pickwhashed({${pool.join(',')}})"`;
    const lines = [];
    for (const line of zoneText.split('\n')) {
      const m = /^(\S+-example-com\.\S+)\s+(\d+)\s+IN\s+(A|AAAA)\s/.exec(line);
      if (!m) lines.push(line);
      else if (m[3] === 'A') lines.push(`${m[1]}\t${m[2]}\tIN\tLUA\tA ${rec}`);
    }
    text = lines.join('\n') + '\n';
  }
  writeFileSync(join(dir, 'bench.zone'), text);
  writeFileSync(
    join(dir, 'named.conf'),
    `zone "${zone}" { type master; file "${join(dir, 'bench.zone')}"; };\n`,
  );
  writeFileSync(
    join(dir, 'pdns.conf'),
    [
      'launch=bind',
      `bind-config=${join(dir, 'named.conf')}`,
      'local-address=127.0.0.1',
      `local-port=${port}`,
      `socket-dir=${dir}`,
      'security-poll-suffix=',
      'guardian=no',
      'daemon=no',
      'disable-syslog=yes',
      'log-dns-queries=no',
      'loglevel=3',
      'receiver-threads=1',
      ...(lua ? ['enable-lua-records=shared', 'edns-subnet-processing=yes'] : []),
      '',
    ].join('\n'),
  );
  return ['--config-dir=' + dir];
}

// ---------------------------------------------------------------- the run

async function main() {
  const date = new Date().toISOString();
  const loadStart = loadavg();
  const mmdb = join(tmp, 'geo.mmdb');
  const csv = join(tmp, 'countries.csv');
  writeCountryCsv(csv);
  execFileSync(process.execPath, [CLI, 'geo', 'build', '--country', csv, '--out', mmdb], {
    stdio: 'ignore',
  });
  const cirrusConfig = join(tmp, 'cirrus.json');
  const dnsConfig = P.workers > 0 ? { dns: { workers: P.workers } } : {};
  writeFileSync(cirrusConfig, JSON.stringify({ geo: { databases: [mmdb] }, ...dnsConfig }));

  const seed = join(tmp, 'seed');
  writeGslbSeed(seed, P.domains, P.nodes);
  const port = {};
  for (const s of new Set(['cirrus', ...P.servers, 'api', 'api-batched', 'big', 'bigapi']))
    port[s] = await freePort();
  const env = cirrusEnv({
    CIRRUS_CONFIG: cirrusConfig,
    SEED_DIR: seed,
    STATE_FILE: '',
    DNS_LISTEN: `127.0.0.1:${port.cirrus}`,
    API_LISTEN: `127.0.0.1:${port.api}`,
    // `cirrus` answers UDP with node:dgram, `cirrus-batched` through the recvmmsg/sendmmsg
    // addon (native/udp-batch; it must be built: dns.udpBatch on fails the start without it).
    CIRRUS_UDP_BATCH: 'off',
  });
  const batchedEnv = {
    ...env,
    DNS_LISTEN: `127.0.0.1:${port['cirrus-batched']}`,
    API_LISTEN: `127.0.0.1:${port['api-batched']}`,
    CIRRUS_UDP_BATCH: 'on',
  };
  const zoneText = execFileSync(process.execPath, [CLI, 'zone', 'export'], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const zone = /^\$ORIGIN (\S+)/m.exec(zoneText)?.[1];
  const names = [...zoneText.matchAll(/^(\S+-example-com\.\S+)\s+\d+\s+IN\s+A\s/gm)].map(
    (m) => m[1],
  );
  if (!zone || names.length !== P.domains)
    throw new Error(`zone export: ${names.length} base names`);
  const queries = join(tmp, 'queries.txt');
  writeFileSync(queries, names.map((n) => `${n} A`).join('\n') + '\n');
  const namesFile = join(tmp, 'names.txt');
  writeFileSync(namesFile, names.join('\n') + '\n');
  const realgen = P.suites.has('realistic') ? compileRealgen(tmp) : undefined;

  const servers = [];
  for (const name of P.servers) {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    let s;
    if (name === 'cirrus')
      s = launch(name, process.execPath, [...CIRRUS_NODE_FLAGS, CLI, 'serve'], {
        env,
        pin: P.workers === 0,
      });
    else if (name === 'cirrus-batched')
      s = launch(name, process.execPath, [...CIRRUS_NODE_FLAGS, CLI, 'serve'], {
        env: batchedEnv,
        pin: P.workers === 0,
      });
    else if (name === 'nsd') {
      writeFileSync(join(dir, 'bench.zone'), zoneText);
      writeFileSync(join(dir, 'nsd.conf'), nsdConf(dir, port[name], zone));
      s = launch(name, 'nsd', ['-d', '-c', join(dir, 'nsd.conf')], { cwd: dir });
    } else if (name === 'gdnsd') {
      gdnsdConfig(dir, port[name], zone, zoneText, mmdb);
      s = launch(name, 'gdnsd', ['-c', dir, '-f', 'start']);
    } else if (name === 'pdns' || name === 'pdns-lua') {
      const args = pdnsConfig(dir, port[name], zone, zoneText, name === 'pdns-lua');
      s = launch(name, 'pdns_server', args);
    } else if (name === 'node-echo' || name === 'node-echo-batched') {
      const args = [join(ROOT, 'bench/node-echo.mjs'), String(port[name])];
      s = launch(name, process.execPath, name === 'node-echo' ? args : [...args, 'batched']);
    } else throw new Error(`unknown server ${name}`);
    s.port = port[name];
    if (name === 'cirrus') s.api = port.api;
    if (name === 'cirrus-batched') s.api = port['api-batched'];
    s.queries = queries;
    servers.push(s);
  }
  for (const s of servers) {
    await waitForDns(s, zone);
    log(`${s.name} pid ${s.pid} on 127.0.0.1:${s.port}`);
  }
  const cirrus = servers.find((s) => s.name === 'cirrus');

  // Same question, same answer shape: every server answers every base name with one A.
  for (const s of servers) {
    if (s.name.startsWith('node-echo')) continue;
    const a = dig(s.port, '+noall', '+answer', names[0], 'A', '+subnet=81.2.69.0/24');
    if (!/\sA\s/.test(a)) note(`${s.name}: no A answer for ${names[0]}: ${a.trim()}`);
  }

  const results = {};
  const rss = {};
  if (cirrus) rss.cirrusStartMb = rssMb(cirrus.pid);
  for (const s of servers) {
    const r = {};
    if (P.suites.has('gslb')) {
      await phase(s, 'warmup', { seconds: P.warmupSeconds });
      r.throughput = await phase(s, 'throughput', { seconds: P.seconds });
      r.latency = await phase(s, 'latency', {
        seconds: P.latencySeconds,
        qps: P.latencyQps,
        verbose: true,
      });
      r.tcp = await phase(s, 'tcp', { seconds: P.tcpSeconds, tcp: true });
    }
    if (realgen && REAL.servers.includes(s.name)) {
      const before = await udpCounters(s);
      r.realistic = await runRealgen(s, realgen, namesFile, zone);
      const after = await udpCounters(s);
      if (before && after) {
        r.realistic.udp = Object.fromEntries(
          Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]),
        );
        log(`${s.name} realistic UDP counters: ${JSON.stringify(r.realistic.udp)}`);
      }
      r.realistic.settleSeconds = await settle(s);
    }
    r.rssMb = rssMb(s.pid);
    results[s.name] = r;
  }
  if (cirrus && P.soakSeconds > 0 && P.suites.has('gslb')) {
    rss.cirrusBeforeSoakMb = rssMb(cirrus.pid);
    results.cirrus.soak = await phase(cirrus, 'soak', {
      seconds: P.soakSeconds,
      qps: P.latencyQps,
    });
    rss.cirrusAfterSoakMb = rssMb(cirrus.pid);
  }
  await stop(servers.map((s) => s.name));

  // The large store: 100,000 domains, 1,000 nodes, in a state file with an API token.
  let big;
  if (P.bigDomains > 0 && P.suites.has('gslb'))
    try {
      const bigSeed = join(tmp, 'big-seed');
      writeGslbSeed(bigSeed, P.bigDomains, P.bigNodes);
      const stateFile = join(tmp, 'big-state.json');
      const token = execFileSync(
        process.execPath,
        [join(ROOT, 'bench/state-file.mjs'), bigSeed, stateFile],
        {
          encoding: 'utf8',
          env: cirrusEnv({}),
        },
      ).trim();
      const benv = cirrusEnv({
        CIRRUS_CONFIG: cirrusConfig,
        SEED_DIR: '',
        STATE_FILE: stateFile,
        DNS_LISTEN: `127.0.0.1:${port.big}`,
        API_LISTEN: `127.0.0.1:${port.bigapi}`,
      });
      const bigNames = join(tmp, 'big-queries.txt');
      const few = [];
      for (let i = 1; i <= P.bigDomains; i += Math.max(1, Math.floor(P.bigDomains / 10000)))
        few.push(`site--${i}-example-com.${zone} A`);
      writeFileSync(bigNames, few.join('\n') + '\n');
      const t0 = Date.now();
      const s = launch('cirrus-big', process.execPath, [...CIRRUS_NODE_FLAGS, CLI, 'serve'], {
        env: benv,
        pin: P.workers === 0,
      });
      s.port = port.big;
      s.queries = bigNames;
      await waitForDns(s, zone, 120_000);
      const startSeconds = (Date.now() - t0) / 1000;
      // The admin API starts listening just after DNS: retry for a while.
      const metrics = async () => {
        for (let i = 0; ; i++) {
          try {
            return await (await fetch(`http://127.0.0.1:${port.bigapi}/metrics`)).text();
          } catch (err) {
            if (i >= 100) throw err;
            await sleep(200);
          }
        }
      };
      const buildStats = (text) => ({
        sum: Number(
          /^cirrus_snapshot_build_seconds_sum(?:\{[^}]*\})? ([\d.e+-]+)/m.exec(text)?.[1] ?? NaN,
        ),
        count: Number(
          /^cirrus_snapshot_build_seconds_count(?:\{[^}]*\})? ([\d.e+-]+)/m.exec(text)?.[1] ?? NaN,
        ),
      });
      const first = buildStats(await metrics());
      big = { startSeconds, firstBuildSeconds: first.sum / first.count, rssMb: rssMb(s.pid) };
      await phase(s, 'big-warmup', { seconds: P.warmupSeconds, qps: P.latencyQps });
      big.steady = await phase(s, 'big-steady', {
        seconds: P.latencySeconds,
        qps: P.latencyQps,
        verbose: true,
      });
      // Rebuilds under load: one node's weight changed through the API every second.
      let weight = 100;
      const before = buildStats(await metrics());
      big.rebuild = await phase(s, 'big-rebuild', {
        seconds: P.latencySeconds,
        qps: P.latencyQps,
        verbose: true,
        during: async () => {
          const until = Date.now() + (P.latencySeconds - 1) * 1000;
          let patches = 0;
          while (Date.now() < until) {
            weight = weight === 100 ? 99 : 100;
            const r = await fetch(`http://127.0.0.1:${port.bigapi}/api/v1/nodes/${nodeOf(1).id}`, {
              method: 'PATCH',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ weight }),
            });
            if (r.ok) patches++;
            else note(`PATCH node: HTTP ${r.status} ${await r.text()}`);
            await sleep(1000);
          }
          return patches;
        },
      });
      const after = buildStats(await metrics());
      big.rebuilds = after.count - before.count;
      big.rebuildSeconds = (after.sum - before.sum) / Math.max(1, after.count - before.count);
      big.rssAfterMb = rssMb(s.pid);
      await stop(['cirrus-big']);
    } catch (err) {
      note(`the ${P.bigDomains}-domain phase failed: ${err.message}`);
      big = undefined;
    }

  const report = {
    date,
    loadavgAtStart: loadStart,
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout.trim(),
    params: { ...P, suites: [...P.suites], realistic: REAL },
    pinning: PIN ? { servers: SERVER_CPUS, dnsperf: LOAD_CPUS } : null,
    results,
    rss,
    big,
    notes,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results/gslb-latest.json'),
    JSON.stringify(report, null, 2) + '\n',
  );
  print(report);
}

const f0 = (x) =>
  x === undefined || Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en-US');
const f1 = (x) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
const f3 = (x) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(3));

/** The dnsperf table and issue 7's targets. */
function printGslb(r, out) {
  out.push(`dnsperf: ${Math.round(P.ecsShare * 100)} % of queries with ECS 81.2.69.0/24`);
  out.push('');
  out.push(
    '| server | QPS | CPU µs/q | p50 @20k | p99 @20k | CPU µs/q @20k | TCP QPS | TCP µs/q | RSS MB |',
  );
  out.push(
    '| ------ | --: | -------: | -------: | -------: | ------------: | ------: | -------: | -----: |',
  );
  for (const [name, x] of Object.entries(r.results)) {
    out.push(
      `| ${name} | ${f0(x.throughput.qps)} | ${f1(x.throughput.cpuUsPerQuery)} | ${f3(x.latency.p50Ms)} | ${f3(x.latency.p99Ms)} | ${f1(x.latency.cpuUsPerQuery)} | ${f0(x.tcp.qps)} | ${f1(x.tcp.cpuUsPerQuery)} | ${f0(x.rssMb)} |`,
    );
  }
  const c = r.results.cirrus;
  const ratio = (o, key) =>
    c && r.results[o] ? (c.throughput[key] / r.results[o].throughput[key]).toFixed(2) : '-';
  out.push('');
  out.push('Targets (issue 7):');
  out.push(
    `1. QPS Cirrus/NSD ${ratio('nsd', 'qps')}× (≥ 0.8), Cirrus/PowerDNS-LUA ${ratio('pdns-lua', 'qps')}× (≥ 2), Cirrus/gdnsd ${ratio('gdnsd', 'qps')}×; CPU per query Cirrus/NSD ${ratio('nsd', 'cpuUsPerQuery')}×`,
  );
  if (r.results['node-echo'])
    out.push(
      `   Cirrus/node-echo (Node's own socket floor, same run): QPS ${ratio('node-echo', 'qps')}×, CPU per query ${ratio('node-echo', 'cpuUsPerQuery')}×; node-echo/NSD QPS ${(r.results['node-echo'].throughput.qps / (r.results.nsd?.throughput.qps ?? NaN)).toFixed(2)}×`,
    );
  out.push(
    `2. Cirrus p99 @ ${P.latencyQps} QPS: ${f3(c?.latency.p99Ms)} ms (≤ 0.5), p50 ${f3(c?.latency.p50Ms)} ms`,
  );
  if (r.big?.rebuild) {
    out.push(
      `3. ${P.bigDomains} domains / ${P.bigNodes} nodes: first build ${f3(r.big.firstBuildSeconds)} s, rebuild ${f3(r.big.rebuildSeconds)} s (${r.big.rebuilds} during load) (≤ 1); p99 steady ${f3(r.big.steady.p99Ms)} ms, during rebuilds ${f3(r.big.rebuild.p99Ms)} ms (${(r.big.rebuild.p99Ms / r.big.steady.p99Ms).toFixed(2)}×, ≤ 2×)`,
    );
    out.push(
      `4. RSS at ${P.bigDomains} domains: ${f0(r.big.rssMb)} MB after start, ${f0(r.big.rssAfterMb)} MB after the rebuild run (≤ 300)`,
    );
  }
  if (r.rss.cirrusAfterSoakMb !== undefined)
    out.push(
      `   RSS over a ${P.soakSeconds} s soak at ${P.latencyQps} QPS (BENCH_SOAK_SECONDS): ${f0(r.rss.cirrusStartMb)} MB at start, ${f0(r.rss.cirrusBeforeSoakMb)} → ${f0(r.rss.cirrusAfterSoakMb)} MB`,
    );
  out.push(
    `5. Cirrus TCP (dnsperf -m tcp, 4 persistent connections, pipelined): ${f0(c?.tcp.qps)} QPS (≥ 20k)`,
  );
}

function print(r) {
  const out = [];
  out.push(
    `\n${r.date}  commit ${r.commit}  load ${r.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}` +
      (r.pinning
        ? `  servers on CPU ${r.pinning.servers}, dnsperf on CPU ${r.pinning.dnsperf}`
        : '  no CPU pinning'),
  );
  out.push(`${P.domains} domains, ${P.nodes} nodes in ${POOLS.length} pools`);
  if (P.suites.has('gslb')) printGslb(r, out);
  out.push(...realisticTable(r.results));
  for (const n of r.notes) out.push(`NOTE: ${n}`);
  console.log(out.join('\n'));
}

main().then(
  () => cleanup(0),
  (err) => {
    log(err.stack ?? String(err));
    void cleanup(1);
  },
);
