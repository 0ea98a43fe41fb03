// Hostile traffic (bench/README.md, "Hostile traffic"): Cirrus with its defaults for the
// internet (RRL at 200/s, slip 2; shedding at 150 ms of lag; cookies on) beside NSD with
// its RRL defaults, under:
//   1. a spoofed-source flood: one name at BENCH_FLOOD_QPS (50k) from 254 addresses of
//      127.0.2.0/24, beside the realistic stream at BENCH_LEGIT_QPS (5k) from other sources;
//   2. a random-subdomain flood: every name new, BENCH_RANDOM_QPS (20k) from the same
//      resolvers as the legitimate stream, beside it;
//   3. overload (Cirrus only): the realistic stream at twice what the process answers in a
//      closed loop; BENCH_SHED_BACKLOG_MS sets dns.shed.maxBacklogMs;
//   4. cookies (Cirrus only): the realistic stream at a fixed rate with a client cookie on
//      half the queries and on none, alternating, CPU per query compared.
// Each legitimate run is set beside the same stream alone ("baseline"). Load generators are
// bench/loadgen/realgen.c (compiled here), on CPU 0; each server on CPU 1. Everything lives
// in a temp dir, only 127.0.0.0/8 is used, and every process started here is stopped.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGslbSeed, writeCountryCsv } from './gslb-seed.mjs';
import { processTree } from './proc.mjs';
import { REAL, compileRealgen, readRealgen } from './realistic.mjs';
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
  seconds: envNum('BENCH_HOSTILE_SECONDS', 8),
  legitQps: envNum('BENCH_LEGIT_QPS', 5000),
  floodQps: envNum('BENCH_FLOOD_QPS', 50000),
  randomQps: envNum('BENCH_RANDOM_QPS', 20000),
  cookieQps: envNum('BENCH_COOKIE_QPS', 10000),
  cookieRounds: envNum('BENCH_COOKIE_ROUNDS', 3),
  servers: (process.env.BENCH_HOSTILE_SERVERS ?? 'cirrus,nsd').split(','),
  /** dns.shed.maxBacklogMs for Cirrus; unset, its default. */
  shedBacklogMs: process.env.BENCH_SHED_BACKLOG_MS
    ? Number(process.env.BENCH_SHED_BACKLOG_MS)
    : undefined,
};
const PLAN = cpuPlan();
const { loadCpus: LOAD_CPUS, onCpus } = PLAN;
const DEADLINE_MS = (envNum('BENCH_DEADLINE_SECONDS', 300) - 10) * 1000;

const tmp = mkdtempSync(join(tmpdir(), 'cirrus-hostile-bench-'));
const log = (msg) => process.stderr.write(`[hostile] ${msg}\n`);
const procs = new ProcessSet({ tmp, log, plan: PLAN });
const notes = [];
const note = (msg) => {
  notes.push(msg);
  log(`NOTE: ${msg}`);
};

// ---------------------------------------------------------------- processes

const cleanup = procs.exitOnSignalsAndDeadline(DEADLINE_MS);

function launch(name, cmd, args, opts = {}) {
  return procs.launch(name, cmd, args, opts);
}

async function waitForDns(server, zone) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (server.child.exitCode !== null)
      throw new Error(
        `${server.name} exited:\n${readFileSync(server.logFile, 'utf8').slice(-3000)}`,
      );
    const r = spawnDig(server.port, zone);
    if (/\bSOA\b/.test(r)) return;
    await sleep(200);
  }
  throw new Error(`${server.name} did not answer`);
}
function spawnDig(port, zone) {
  try {
    return execFileSync(
      'dig',
      ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', '+noall', '+answer', zone, 'SOA'],
      { encoding: 'utf8' },
    );
  } catch {
    return '';
  }
}

/** The server's pids (its process tree) and RSS in MB. */
function pidsOf(server) {
  return processTree(server.child.pid);
}
function rssMb(server) {
  let kb = 0;
  for (const p of pidsOf(server)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

/** Kernel drops on the server's UDP socket(s) on `port` (/proc/net/udp, last column). */
function socketDrops(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let drops = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(hex)) drops += Number(f.at(-1));
  }
  return drops;
}

// ---------------------------------------------------------------- generators

/**
 * realgen's arguments. `kind`: legit (the realistic stream), spoof (one name, type A, no
 * ECS or cookie, 254 sources in 127.0.2.0/24, repeats allowed), random (every name a new
 * label under the zone, from the legitimate resolvers' addresses), or cookies/plain (the
 * realistic stream with a client cookie on half of the resolvers, or on none).
 */
function genArgs(kind, { port, namesFile, spoofNames, zone, phases, pids, seed }) {
  const common = ['--port', String(port), '--nx-zone', zone, '--phases', phases.join(',')];
  if (pids) common.push('--cpu-pids', pids.join(','));
  const realistic = [
    ...['--names', namesFile, '--window', String(REAL.ttl * REAL.latencyQps)],
    ...['--resolvers', String(REAL.resolvers), '--addresses', String(REAL.addresses)],
    ...['--sockets', String(REAL.sockets), '--subnets4', String(REAL.subnets4)],
    ...['--subnets6', String(REAL.subnets6), '--ecs', String(REAL.ecsShare)],
  ];
  switch (kind) {
    case 'legit':
      return [...common, ...realistic, '--seed', String(seed ?? REAL.seed), '--cookies', '0.5'];
    case 'cookies':
    case 'plain':
      return [
        ...common,
        ...realistic,
        ...['--seed', String(REAL.seed), '--cookies', kind === 'cookies' ? '0.5' : '0'],
      ];
    case 'spoof':
      return [
        ...common,
        ...['--names', spoofNames, '--source-net', '127.0.2', '--addresses', '254'],
        ...['--sockets', '4', '--resolvers', '1016', '--ecs', '0', '--cookies', '0'],
        ...['--mix', '1,0', '--repeat', '1', '--window', '100000', '--seed', '11'],
      ];
    case 'random':
      return [
        ...common,
        ...['--names', namesFile, '--resolvers', String(REAL.resolvers)],
        ...['--addresses', String(REAL.addresses), '--sockets', '4', '--ecs', '0.6'],
        ...['--cookies', '0.5', '--mix', '0,0', '--window', '100000', '--seed', '13'],
      ];
    default:
      throw new Error(kind);
  }
}

/** Runs realgen on the load CPUs until it exits by itself; its JSON result. */
function runGen(name, realgen, args, limitSeconds) {
  const outFile = join(tmp, `${name}.out`);
  const fd = openSync(outFile, 'w');
  const [c, a] = onCpus(LOAD_CPUS, realgen, args);
  const child = spawn(c, a, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  procs.track(name, child);
  return new Promise((res, rej) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), (limitSeconds + 20) * 1000);
    child.on('exit', (code) => {
      clearTimeout(kill);
      procs.forget(name);
      const text = readFileSync(outFile, 'utf8');
      if (code !== 0) rej(new Error(`realgen ${name} exited ${code}:\n${text.slice(-2000)}`));
      else res(readRealgen(text));
    });
  });
}

async function cirrusMetrics(apiPort) {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  const sum = (re) => [...text.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
  return {
    shed: sum(/^cirrus_dns_shed_total(?:\{[^}]*\})? (\d+)/gm),
    slipped: sum(/^cirrus_dns_rrl_total\{action="slipped"[^}]*\} (\d+)/gm),
    dropped: sum(/^cirrus_dns_rrl_total\{action="dropped"[^}]*\} (\d+)/gm),
  };
}
/** Notes a phase during which processes other than the server and generators used CPU. */
function noteOthers(label, phase, ...moreGens) {
  const gens = phase.genCores + moreGens.reduce((sum, g) => sum + g.genCores, 0);
  const other = phase.machineProcessCores - phase.serverCores - gens;
  if (other > 0.25) note(`${label}: other processes used ${other.toFixed(2)} cores meanwhile`);
}
const delta = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a?.[k] ?? 0)]));

// ---------------------------------------------------------------- scenarios

async function scenarios(server, ctx) {
  const { realgen } = ctx;
  const S = P.seconds;
  const out = { rssStartMb: rssMb(server) };
  const metrics = async () => (server.apiPort ? cirrusMetrics(server.apiPort) : undefined);
  const legit = (tag, seed) =>
    runGen(
      `${server.name}-${tag}-legit`,
      realgen,
      genArgs('legit', {
        ...ctx,
        port: server.port,
        seed,
        pids: pidsOf(server),
        phases: [`legit:rate:${P.legitQps}:${S}`],
      }),
      S,
    );
  const flood = (tag, kind, qps) =>
    runGen(
      `${server.name}-${tag}-flood`,
      realgen,
      genArgs(kind, { ...ctx, port: server.port, phases: [`flood:rate:${qps}:${S}`] }),
      S,
    );
  // The baseline; then each flood with the same legitimate stream beside it (another part
  // of the stream: the seed differs, so no answer is already in a cache from the baseline).
  out.baseline = (await legit('baseline', 21)).legit;
  noteOthers(`${server.name} baseline`, out.baseline);
  for (const [tag, kind, qps, seed] of [
    ['spoof', 'spoof', P.floodQps, 22],
    ['random', 'random', P.randomQps, 23],
  ]) {
    await sleep(1000);
    const m0 = await metrics();
    const d0 = socketDrops(server.port);
    const [l, f] = await Promise.all([legit(tag, seed), flood(tag, kind, qps)]);
    const m1 = await metrics();
    noteOthers(`${server.name} ${tag}`, l.legit, f.flood);
    out[tag] = {
      legit: l.legit,
      flood: f.flood,
      kernelDrops: socketDrops(server.port) - d0,
      rssMb: rssMb(server),
      ...(m1 ? { counters: delta(m0, m1) } : {}),
    };
    log(
      `${server.name} ${tag}: legit ${Math.round(l.legit.qps)} QPS lost ${l.legit.lost} p99 ${l.legit.p99Ms.toFixed(3)} ms; ` +
        `flood sent ${f.flood.sent} answered ${f.flood.answered} (TC ${f.flood.truncated}); RSS ${out[tag].rssMb.toFixed(0)} MB`,
    );
  }
  if (server.name !== 'cirrus') return out;

  // Overload: capacity in a closed loop with 24 queries in flight (fewer than the 32 a
  // backlogged socket fills a turn with: enough to keep one core busy, never read as a
  // backlog by dns.shed.maxBacklogMs), then twice that offered.
  await sleep(1000);
  const cap = await runGen(
    'cirrus-capacity',
    realgen,
    genArgs('legit', {
      ...ctx,
      port: server.port,
      seed: 31,
      pids: pidsOf(server),
      phases: [`capacity:max:24:${S}`],
    }),
    S,
  );
  const capacity = cap.capacity.qps;
  noteOthers('cirrus capacity', cap.capacity);
  await sleep(1000);
  const m0 = await metrics();
  const d0 = socketDrops(server.port);
  const over = await runGen(
    'cirrus-overload',
    realgen,
    genArgs('legit', {
      ...ctx,
      port: server.port,
      seed: 32,
      pids: pidsOf(server),
      phases: [`overload:rate:${Math.round(2 * capacity)}:${S}`],
    }),
    S,
  );
  noteOthers('cirrus overload', over.overload);
  out.overload = {
    capacity: cap.capacity,
    offered: over.overload,
    kernelDrops: socketDrops(server.port) - d0,
    counters: delta(m0, await metrics()),
  };
  log(
    `cirrus overload: capacity ${Math.round(capacity)} QPS; at 2× answered ${Math.round(over.overload.qps)} QPS, ` +
      `p99 ${over.overload.p99Ms.toFixed(3)} ms, lost ${over.overload.lost}, shed ${out.overload.counters.shed}, kernel drops ${out.overload.kernelDrops}`,
  );

  // Cookies: the same stream with and without client cookies, alternating.
  out.cookies = { with: [], without: [] };
  for (let round = 0; round < P.cookieRounds; round++) {
    for (const kind of ['plain', 'cookies']) {
      await sleep(500);
      const r = await runGen(
        `cirrus-${kind}-${round}`,
        realgen,
        genArgs(kind, {
          ...ctx,
          port: server.port,
          pids: pidsOf(server),
          phases: [`run:rate:${P.cookieQps}:${S / 2}`],
        }),
        S,
      );
      out.cookies[kind === 'cookies' ? 'with' : 'without'].push(r.run.serverCpuUsPerQuery);
    }
  }
  log(
    `cirrus cookies: µs/q with ${out.cookies.with.map((x) => x.toFixed(1))} without ${out.cookies.without.map((x) => x.toFixed(1))}`,
  );
  return out;
}

// ---------------------------------------------------------------- servers

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
  const shed =
    P.shedBacklogMs === undefined ? {} : { dns: { shed: { maxBacklogMs: P.shedBacklogMs } } };
  writeFileSync(cirrusConfig, JSON.stringify({ geo: { databases: [mmdb] }, ...shed }));
  const seed = join(tmp, 'seed');
  writeGslbSeed(seed, P.domains, P.nodes);
  const port = { cirrus: await freePort(), api: await freePort(), nsd: await freePort() };
  // Cirrus as on the internet: the defaults of dns.rrl, dns.shed and dns.cookies.
  const env = { ...process.env, LOG_LEVEL: 'warn' };
  for (const k of ['REDIS_URL', 'CNAME_BASE_DOMAIN', 'DNS_RRL_RATE']) delete env[k];
  Object.assign(env, {
    CIRRUS_CONFIG: cirrusConfig,
    SEED_DIR: seed,
    STATE_FILE: '',
    DNS_LISTEN: `127.0.0.1:${port.cirrus}`,
    API_LISTEN: `127.0.0.1:${port.api}`,
  });
  const zoneText = execFileSync(process.execPath, [CLI, 'zone', 'export'], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const zone = /^\$ORIGIN (\S+)/m.exec(zoneText)?.[1];
  const names = [...zoneText.matchAll(/^(\S+-example-com\.\S+)\s+\d+\s+IN\s+A\s/gm)].map(
    (m) => m[1],
  );
  if (!zone || names.length !== P.domains) throw new Error(`zone export: ${names.length} names`);
  const namesFile = join(tmp, 'names.txt');
  writeFileSync(namesFile, names.join('\n') + '\n');
  const spoofNames = join(tmp, 'spoof-name.txt');
  writeFileSync(spoofNames, `${names[0]}\n`);
  const realgen = compileRealgen(tmp);
  const ctx = { realgen, namesFile, spoofNames, zone };

  const results = {};
  for (const name of P.servers) {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    let s;
    if (name === 'cirrus') {
      s = launch(name, process.execPath, [...CIRRUS_NODE_FLAGS, CLI, 'serve'], { env });
      s.apiPort = port.api;
    } else if (name === 'nsd') {
      writeFileSync(join(dir, 'bench.zone'), zoneText);
      writeFileSync(join(dir, 'nsd.conf'), nsdConf(dir, port.nsd, zone, { rrl: true }));
      s = launch(name, 'nsd', ['-d', '-c', join(dir, 'nsd.conf')], { cwd: dir });
    } else throw new Error(`unknown server ${name}`);
    s.port = port[name];
    await waitForDns(s, zone);
    log(`${name} pid ${s.child.pid} on 127.0.0.1:${s.port}`);
    results[name] = await scenarios(s, ctx);
    s.child.kill('SIGTERM');
    await sleep(1000);
    procs.forget(name);
  }
  const report = {
    date,
    loadStart,
    node: process.version,
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim(),
    params: P,
    results,
    notes,
  };
  const file = join(ROOT, 'bench/results', `hostile-${date.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2));
  print(report);
  log(`results: ${file}`);
}

const f0 = (x) => (x === undefined || x < 0 ? '-' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x === undefined ? '-' : x.toFixed(1));
const f3 = (x) => (x === undefined ? '-' : x.toFixed(3));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function print(r) {
  const out = [
    `Hostile traffic, ${r.date}, commit ${r.commit}, node ${r.node}, load at start ${r.loadStart.map((x) => x.toFixed(2)).join(' ')}`,
    `legitimate: the realistic stream at ${f0(P.legitQps)} QPS; spoofed flood: one name, type A, ${f0(P.floodQps)} QPS from 127.0.2.0/24; ` +
      `random-subdomain flood: ${f0(P.randomQps)} QPS of new names from the legitimate resolvers; ${P.seconds} s each`,
    '',
    '| server | scenario | legit QPS | legit lost | legit p50 ms | legit p99 ms | p99 / baseline | flood sent | flood answered (TC) | RRL slipped / dropped | kernel drops | RSS MB |',
    '| ------ | -------- | --------: | ---------: | -----------: | -----------: | -------------: | ---------: | ------------------: | --------------------: | -----------: | -----: |',
  ];
  for (const [name, x] of Object.entries(r.results)) {
    const b = x.baseline;
    out.push(
      `| ${name} | baseline | ${f0(b.qps)} | ${f0(b.lost)} | ${f3(b.p50Ms)} | ${f3(b.p99Ms)} | 1.00 | - | - | - | - | ${f0(x.rssStartMb)} |`,
    );
    for (const tag of ['spoof', 'random']) {
      const s = x[tag];
      const c = s.counters;
      out.push(
        `| ${name} | ${tag} | ${f0(s.legit.qps)} | ${f0(s.legit.lost)} | ${f3(s.legit.p50Ms)} | ${f3(s.legit.p99Ms)} | ${(s.legit.p99Ms / b.p99Ms).toFixed(2)} | ` +
          `${f0(s.flood.sent)} | ${f0(s.flood.answered - s.flood.truncated)} (${f0(s.flood.truncated)}) | ${c ? `${f0(c.slipped)} / ${f0(c.dropped)}` : '-'} | ${f0(s.kernelDrops)} | ${f0(s.rssMb)} |`,
      );
    }
  }
  const c = r.results.cirrus;
  if (c?.overload) {
    const o = c.overload;
    out.push(
      '',
      `Overload (Cirrus, dns.shed.maxBacklogMs ${P.shedBacklogMs ?? 'default'}): capacity ${f0(o.capacity.qps)} QPS (closed loop, 24 in flight, ${f1(o.capacity.serverCpuUsPerQuery)} µs/q, ${o.capacity.serverCores.toFixed(2)} cores); ` +
        `offered ${f0(o.offered.param)} QPS: answered ${f0(o.offered.qps)} QPS, p50 ${f3(o.offered.p50Ms)} ms, p99 ${f3(o.offered.p99Ms)} ms, ` +
        `lost ${f0(o.offered.lost)} of ${f0(o.offered.sent)}; shed (counted) ${f0(o.counters.shed)}, kernel socket drops ${f0(o.kernelDrops)}`,
    );
  }
  if (c?.cookies) {
    const w = median(c.cookies.with);
    const wo = median(c.cookies.without);
    out.push(
      `Cookies (Cirrus, ${f0(P.cookieQps)} QPS, ${P.cookieRounds} alternating rounds): CPU µs/q with a client cookie on half the queries ` +
        `${c.cookies.with.map(f1).join(', ')} (median ${f1(w)}), without ${c.cookies.without.map(f1).join(', ')} (median ${f1(wo)}): ${((w / wo - 1) * 100).toFixed(1)} %`,
    );
  }
  for (const n of r.notes) out.push(`- NOTE: ${n}`);
  process.stdout.write(out.join('\n') + '\n');
}

main().then(
  () => cleanup(0),
  (err) => {
    log(err.stack ?? String(err));
    void cleanup(1);
  },
);
