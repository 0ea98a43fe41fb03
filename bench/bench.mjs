// Cirrus vs NSD, same machine, same run, same zone data: throughput (dnsperf at full
// speed), latency percentiles at a fixed 20k QPS, and server CPU time per answered query.
// Started by bench/run (which builds first when dist/ is missing). Everything lives in a
// temp dir; only 127.0.0.1 is queried; only the processes started here are stopped.
// Knobs (environment): BENCH_SECONDS (throughput run, 15), BENCH_LATENCY_SECONDS (8),
// BENCH_LATENCY_QPS (20000), BENCH_CLIENTS (4), BENCH_WARMUP_SECONDS (3), BENCH_KEEP=1
// keeps the temp dir.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSeed } from './gen-seed.mjs';
import { parseSummary, percentile, verboseLatencies } from './dnsperf.mjs';
import { machineCpu, processCpuSeconds, processTree, treeCpuSeconds } from './proc.mjs';
import { loadavg } from 'node:os';
import { CIRRUS_NODE_FLAGS } from './servers.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/src/cli.js');
const envNum = (name, def) => (process.env[name] ? Number(process.env[name]) : def);
const P = {
  domains: 1000,
  nodes: 20,
  throughputSeconds: envNum('BENCH_SECONDS', 15),
  latencySeconds: envNum('BENCH_LATENCY_SECONDS', 8),
  latencyQps: envNum('BENCH_LATENCY_QPS', 20000),
  clients: envNum('BENCH_CLIENTS', 4),
  warmupSeconds: envNum('BENCH_WARMUP_SECONDS', 3),
};
const DEADLINE_MS = 270_000; // the whole run, whatever happens

const started = new Map(); // name → { child, pids: Set }
const notes = [];
const tmp = mkdtempSync(join(tmpdir(), 'cirrus-bench-'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const note = (msg) => {
  notes.push(msg);
  log(`NOTE: ${msg}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

function track(name, child) {
  started.set(name, { child, pids: new Set([child.pid]) });
  child.on('exit', () => {
    const s = started.get(name);
    if (s) s.exited = true;
  });
}

function remember(name) {
  const s = started.get(name);
  if (s && !s.exited) for (const pid of processTree(s.child.pid)) s.pids.add(pid);
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function stopAll() {
  for (const name of started.keys()) remember(name);
  // dnsperf blocks SIGTERM and stops (printing its statistics) on SIGINT.
  for (const [name, { child }] of started)
    if (alive(child.pid)) child.kill(name.startsWith('dnsperf') ? 'SIGINT' : 'SIGTERM');
  const until = Date.now() + 5000;
  const all = () => [...started.values()].flatMap((s) => [...s.pids]);
  while (Date.now() < until && all().some(alive)) await sleep(100);
  for (const pid of all()) {
    if (!alive(pid)) continue;
    log(`pid ${pid} did not stop on SIGTERM; SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  started.clear();
}

let cleaning = false;
async function cleanup(code) {
  if (cleaning) return;
  cleaning = true;
  await stopAll();
  if (process.env.BENCH_KEEP === '1') log(`temp dir kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void cleanup(130));
setTimeout(() => {
  log(`deadline of ${DEADLINE_MS / 1000}s reached; stopping`);
  void cleanup(124);
}, DEADLINE_MS).unref();

function freePort() {
  // A port free for both UDP and TCP on 127.0.0.1.
  return new Promise((resolvePort, reject) => {
    const udp = createSocket('udp4');
    udp.once('error', reject);
    udp.bind(0, '127.0.0.1', () => {
      const port = udp.address().port;
      const tcp = createServer();
      tcp.once('error', () => {
        udp.close();
        freePort().then(resolvePort, reject);
      });
      tcp.listen(port, '127.0.0.1', () => tcp.close(() => udp.close(() => resolvePort(port))));
    });
  });
}

function dig(port, ...args) {
  const r = spawnSync('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.status === 0 ? r.stdout : '';
}

async function waitForDns(name, port, zone, logFile) {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (started.get(name)?.exited)
      throw new Error(`${name} exited during start-up; its log:\n${readFileSync(logFile, 'utf8')}`);
    if (/\bSOA\b/.test(dig(port, '+noall', '+answer', zone, 'SOA'))) return;
    await sleep(200);
  }
  throw new Error(`${name} did not answer on 127.0.0.1:${port} within 30s`);
}

// ---------------------------------------------------------------- measuring

/** Runs dnsperf to completion; resolves with its output and (polled, so within ~0.1 s) its CPU seconds. */
function runDnsperf(port, args, outFile, limitSeconds) {
  if (cleaning) return Promise.reject(new Error('stopping'));
  const fd = openSync(outFile, 'w');
  const child = spawn('dnsperf', ['-s', '127.0.0.1', '-p', String(port), ...args], {
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  track(`dnsperf-${port}`, child);
  let cpu = 0;
  const poll = setInterval(() => (cpu = processCpuSeconds(child.pid) ?? cpu), 100);
  return new Promise((res, rej) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), (limitSeconds + 20) * 1000);
    child.on('error', rej);
    child.on('exit', (code) => {
      clearTimeout(kill);
      clearInterval(poll);
      started.delete(`dnsperf-${port}`);
      const text = readFileSync(outFile, 'utf8');
      if (code !== 0) rej(new Error(`dnsperf exited ${code}:\n${text.slice(-2000)}`));
      else res({ text, cpu });
    });
  });
}

async function measured(server, args, outFile, limitSeconds) {
  const cpu0 = treeCpuSeconds(server.pid);
  const m0 = machineCpu();
  const t0 = process.hrtime.bigint();
  const { text, cpu: dnsperfCpu } = await runDnsperf(server.port, args, outFile, limitSeconds);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = treeCpuSeconds(server.pid) - cpu0;
  const m1 = machineCpu();
  const summary = parseSummary(text);
  // What the machine did besides the server and dnsperf: other processes (this script,
  // other users) and interrupt time (loopback packet delivery, charged to no process).
  const otherCores = Math.max(0, m1.processes - m0.processes - cpu - dnsperfCpu) / wall;
  const interruptCores = (m1.interrupts - m0.interrupts) / wall;
  return {
    text,
    summary,
    cpuSeconds: cpu,
    wallSeconds: wall,
    dnsperfCpuSeconds: dnsperfCpu,
    otherCores,
    interruptCores,
  };
}

function cpuPerQueryUs(m) {
  return m.summary.completed ? (m.cpuSeconds * 1e6) / m.summary.completed : undefined;
}

// ---------------------------------------------------------------- the run

async function main() {
  const date = new Date().toISOString();
  const loadavgAtStart = loadavg();
  if (!statSync(CLI, { throwIfNoEntry: false }))
    throw new Error(`${CLI} is missing: run npm run build (bench/run does)`);
  const newestSrc = Math.max(
    ...readdirSync(join(ROOT, 'src'), { recursive: true })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => statSync(join(ROOT, 'src', f)).mtimeMs),
  );
  if (newestSrc > statSync(CLI).mtimeMs)
    note(
      'dist/ is older than some src/ files and may be stale: these figures are for the last build (BENCH_BUILD=1 bash bench/run rebuilds)',
    );

  // 1. Seed and Cirrus.
  const seedDir = join(tmp, 'seed');
  writeSeed(seedDir, P.domains, P.nodes);
  const [dnsPort, apiPort, nsdPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const env = {
    ...process.env,
    SEED_DIR: seedDir,
    STATE_FILE: '',
    DNS_LISTEN: `127.0.0.1:${dnsPort}`,
    API_LISTEN: `127.0.0.1:${apiPort}`,
    LOG_LEVEL: 'warn',
    // Response rate limiting off: the load comes from one address (see bench/README.md).
    DNS_RRL_RATE: '0',
  };
  delete env.REDIS_URL;
  delete env.CIRRUS_CONFIG;
  delete env.CNAME_BASE_DOMAIN;

  // 2. The zone Cirrus answers, exported for NSD.
  const zoneText = execFileSync(process.execPath, [CLI, 'zone', 'export'], {
    env,
    encoding: 'utf8',
    cwd: ROOT,
  });
  const zone = /^\$ORIGIN (\S+)/m.exec(zoneText)?.[1];
  if (!zone) throw new Error(`zone export printed no $ORIGIN:\n${zoneText}`);
  const baseNames = (text) =>
    [...text.matchAll(/^(\S+-example-com\.\S+)\s+\d+\s+IN\s+A\s/gm)].map((m) => m[1]);
  const names = baseNames(zoneText);
  if (names.length !== P.domains)
    throw new Error(`exported zone has ${names.length} base names, expected ${P.domains}`);

  const cirrusLog = join(tmp, 'cirrus.log');
  const cfd = openSync(cirrusLog, 'w');
  const cirrus = spawn(process.execPath, [...CIRRUS_NODE_FLAGS, CLI, 'serve'], {
    env,
    cwd: tmp,
    stdio: ['ignore', cfd, cfd],
  });
  closeSync(cfd);
  track('cirrus', cirrus);
  log(
    `cirrus pid ${cirrus.pid} on 127.0.0.1:${dnsPort} (api ${apiPort}); ${P.domains} domains, ${P.nodes} nodes`,
  );
  await waitForDns('cirrus', dnsPort, zone, cirrusLog);

  // NSD, unprivileged, from the temp dir (shared/recipes/nsd.conf.template), no RRL.
  const nsdDir = join(tmp, 'nsd');
  mkdirSync(nsdDir);
  writeFileSync(join(nsdDir, 'bench.zone'), zoneText);
  const nsdConf = join(nsdDir, 'nsd.conf');
  writeFileSync(
    nsdConf,
    `server:
  ip-address: 127.0.0.1
  port: ${nsdPort}
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${nsdDir}"
  database: ""
  zonelistfile: "${nsdDir}/zone.list"
  pidfile: "${nsdDir}/nsd.pid"
  xfrdfile: ""
  xfrdir: "${nsdDir}"
  logfile: "${nsdDir}/nsd.log"
  verbosity: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "${zone}"
  zonefile: "bench.zone"
`,
  );
  execFileSync('nsd-checkconf', [nsdConf]);
  const nsdLog = join(nsdDir, 'nsd.out');
  const nfd = openSync(nsdLog, 'w');
  const nsd = spawn('nsd', ['-d', '-c', nsdConf], { cwd: nsdDir, stdio: ['ignore', nfd, nfd] });
  closeSync(nfd);
  track('nsd', nsd);
  log(`nsd pid ${nsd.pid} on 127.0.0.1:${nsdPort}`);
  await waitForDns('nsd', nsdPort, zone, nsdLog);
  remember('nsd');

  // 3. Queries: every base name, type A, in zone order.
  const queries = join(tmp, 'queries.txt');
  writeFileSync(queries, names.map((n) => `${n} A`).join('\n') + '\n');

  // Both servers must give the same answers, or the comparison means nothing.
  const answers = (port) => {
    const lines = dig(port, '+noall', '+answer', '-f', queries).split('\n').filter(Boolean);
    return lines.map((l) => l.split(/\s+/).join(' ')).sort();
  };
  const ca = answers(dnsPort);
  const na = answers(nsdPort);
  const same = ca.length === na.length && ca.every((l, i) => l === na[i]);
  const answerCheck = { cirrusAnswers: ca.length, nsdAnswers: na.length, identical: same };
  if (!same)
    note(
      `answers differ: cirrus gave ${ca.length} answer records, nsd ${na.length}, or their contents differ`,
    );
  log(
    `answer check over ${names.length} names: ${same ? 'identical' : 'DIFFERENT'} (${ca.length} records)`,
  );

  const servers = [
    { name: 'cirrus', pid: cirrus.pid, port: dnsPort },
    { name: 'nsd', pid: nsd.pid, port: nsdPort },
  ];
  const throughputArgs = [
    '-d',
    queries,
    '-l',
    String(P.throughputSeconds),
    '-c',
    String(P.clients),
  ];
  const latencyArgs = [
    '-d',
    queries,
    '-l',
    String(P.latencySeconds),
    '-c',
    String(P.clients),
    '-Q',
    String(P.latencyQps),
    '-v',
  ];
  const results = {};

  // 4a. Throughput: a warm-up (JIT, caches) then the measured run, one server at a time.
  for (const s of servers) {
    log(`${s.name}: warm-up ${P.warmupSeconds}s`);
    await runDnsperf(
      s.port,
      ['-d', queries, '-l', String(P.warmupSeconds), '-c', String(P.clients)],
      join(tmp, `${s.name}-warmup.txt`),
      P.warmupSeconds,
    );
    log(`${s.name}: throughput ${P.throughputSeconds}s`);
    const m = await measured(
      s,
      throughputArgs,
      join(tmp, `${s.name}-throughput.txt`),
      P.throughputSeconds,
    );
    results[s.name] = {
      throughput: {
        ...m.summary,
        serverCpuSeconds: m.cpuSeconds,
        serverCpuUtilisation: m.cpuSeconds / m.wallSeconds,
        cpuUsPerQuery: cpuPerQueryUs(m),
        dnsperfCpuSeconds: m.dnsperfCpuSeconds,
        otherCores: m.otherCores,
        interruptCores: m.interruptCores,
      },
    };
  }
  // 4b. Latency at a fixed rate, per-query latencies from -v.
  for (const s of servers) {
    log(`${s.name}: latency at ${P.latencyQps} QPS for ${P.latencySeconds}s`);
    const m = await measured(s, latencyArgs, join(tmp, `${s.name}-latency.txt`), P.latencySeconds);
    const lat = verboseLatencies(m.text);
    results[s.name].latency = {
      ...m.summary,
      samples: lat.length,
      p50Ms: percentile(lat, 0.5),
      p90Ms: percentile(lat, 0.9),
      p99Ms: percentile(lat, 0.99),
      p999Ms: percentile(lat, 0.999),
      serverCpuSeconds: m.cpuSeconds,
      cpuUsPerQuery: cpuPerQueryUs(m),
      dnsperfCpuSeconds: m.dnsperfCpuSeconds,
      otherCores: m.otherCores,
      interruptCores: m.interruptCores,
    };
  }

  // What Cirrus itself counted, and anything it logged at warn or above.
  let cirrusMetrics = {};
  try {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    for (const m of text.matchAll(/^(cirrus_dns_\w+)(\{[^}]*\})? ([\d.e+]+)$/gm))
      cirrusMetrics[`${m[1]}${m[2] ?? ''}`] = Number(m[3]);
  } catch (err) {
    note(`could not read cirrus /metrics: ${err.message}`);
  }
  const cirrusLogText = readFileSync(cirrusLog, 'utf8').trim();
  if (cirrusLogText)
    note(
      `cirrus logged ${cirrusLogText.split('\n').length} line(s) at warn or above; first: ${cirrusLogText.split('\n')[0].slice(0, 300)}`,
    );
  for (const s of servers) {
    const r = results[s.name];
    for (const phase of ['throughput', 'latency']) {
      const x = r[phase];
      if (x.lost > 0)
        note(
          `${s.name} ${phase}: ${x.lost} of ${x.sent} queries lost (no answer within dnsperf's 5 s timeout)`,
        );
      if (x.otherCores > 0.25)
        note(
          `${s.name} ${phase}: other processes used ${x.otherCores.toFixed(2)} of ${cpus().length} cores meanwhile; this figure is disturbed, rerun on a quiet machine`,
        );
      const other = Object.entries(x.rcodes).filter(([k]) => k !== 'NOERROR');
      if (other.length)
        note(
          `${s.name} ${phase}: non-NOERROR answers ${JSON.stringify(Object.fromEntries(other))}`,
        );
    }
  }
  remember('cirrus');
  remember('nsd');
  await stopAll();

  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  const report = {
    date,
    machine: {
      loadavgAtStart,
      loadavgAtEnd: loadavg(),
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    },
    versions: {
      node: process.version,
      nsd: spawnSync('nsd', ['-v'], { encoding: 'utf8' }).stderr.split('\n')[0],
      dnsperf: /Version (\S+)/.exec(spawnSync('dnsperf', ['-h'], { encoding: 'utf8' }).stderr)?.[1],
      cirrus: execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], {
        encoding: 'utf8',
      }).trim(),
    },
    setup: {
      ...P,
      zone,
      queries: `${names.length} base names, type A`,
      throughputCommand: `dnsperf -s 127.0.0.1 -p PORT ${throughputArgs.join(' ').replace(queries, 'queries.txt')}`,
      latencyCommand: `dnsperf -s 127.0.0.1 -p PORT ${latencyArgs.join(' ').replace(queries, 'queries.txt')}`,
      nsd: 'NSD, server-count 1, rrl-ratelimit 0, zone file from the Cirrus export',
      cirrus: 'node dist/src/cli.js serve, memory store, LOG_LEVEL=warn, one process',
    },
    answerCheck,
    results,
    ratios: {
      qps: ratio(results.cirrus.throughput.qps, results.nsd.throughput.qps),
      cpuPerQuery: ratio(
        results.cirrus.throughput.cpuUsPerQuery,
        results.nsd.throughput.cpuUsPerQuery,
      ),
      p50: ratio(results.cirrus.latency.p50Ms, results.nsd.latency.p50Ms),
      p99: ratio(results.cirrus.latency.p99Ms, results.nsd.latency.p99Ms),
    },
    cirrusMetrics,
    notes,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latest.json'), JSON.stringify(report, null, 2) + '\n');
  printTable(report);
}

function printTable(r) {
  const f = (v, d = 0) =>
    v === undefined
      ? '-'
      : v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const head = [
    'server',
    'QPS',
    'avg ms',
    `p50 ms @${r.setup.latencyQps / 1000}k`,
    `p99 ms @${r.setup.latencyQps / 1000}k`,
    'CPU µs/query',
    `CPU µs/q @${r.setup.latencyQps / 1000}k`,
    'lost (max / fixed)',
  ];
  const rows = Object.entries(r.results).map(([name, x]) => [
    name,
    f(x.throughput.qps),
    f(x.throughput.avgLatencyMs, 3),
    f(x.latency.p50Ms, 3),
    f(x.latency.p99Ms, 3),
    f(x.throughput.cpuUsPerQuery, 1),
    f(x.latency.cpuUsPerQuery, 1),
    `${f(x.throughput.lost)} / ${f(x.latency.lost)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [
    '',
    `Cirrus GSLB vs NSD — ${r.date}, ${r.machine.cores} cores, ${r.setup.domains} base names (type A)`,
    `throughput: ${r.setup.throughputCommand}`,
    `latency:    ${r.setup.latencyCommand}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `Cirrus/NSD: QPS ${f(r.ratios.qps, 2)}x, CPU per query ${f(r.ratios.cpuPerQuery, 2)}x, p50 ${f(r.ratios.p50, 2)}x, p99 ${f(r.ratios.p99, 2)}x`,
    ...Object.entries(r.results).map(
      ([n, x]) =>
        `${n} throughput run: server ${f(x.throughput.serverCpuUtilisation, 2)} core, dnsperf ${f(x.throughput.dnsperfCpuSeconds / x.throughput.runSeconds, 2)} core, ` +
        `interrupts ${f(x.throughput.interruptCores, 2)} core, other processes ${f(x.throughput.otherCores, 2)} core (of ${r.machine.cores})`,
    ),
    `load average at start ${r.machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}; other processes during the latency runs: ${Object.entries(
      r.results,
    )
      .map(([n, x]) => `${n} ${f(x.latency.otherCores, 2)} core`)
      .join(', ')}`,
    `answers identical on both servers: ${r.answerCheck.identical ? 'yes' : 'NO'}`,
    ...r.notes.map((n) => `note: ${n}`),
    `JSON: bench/results/latest.json`,
    '',
  ];
  process.stdout.write(out.join('\n'));
}

main().then(
  () => cleanup(0),
  (err) => {
    log(cleaning ? 'interrupted' : `failed: ${err.stack ?? err}`);
    void cleanup(1);
  },
);
