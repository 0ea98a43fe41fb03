// What online signing costs under realistic traffic (issue 19, "Measured"; bench/README.md,
// "DNSSEC"): the realistic suite's resolver-shaped stream (bench/loadgen/realgen.c, GeoIP,
// ECS from tens of thousands of subnets, 10,000 base names) against Cirrus unsigned and
// Cirrus with DNSSEC=on, each with the DO bit on 0 %, 10 % and 100 % of the queries (the
// same stream otherwise). Per run: server CPU µs per answered query at full speed and at a
// fixed rate, p50/p99 at that rate, and from /metrics the signatures computed and the
// signature cache's entries. Each run's warm-up fills the answer and signature caches, so
// the measured phases are "with signatures cached" apart from what the stream's new
// (name, pool) pairs and denial proofs still need.
// Everything lives in a temp dir; only 127.0.0.1 is queried; only the processes started
// here are stopped. `node bench/dnssec.mjs` after `npx tsc -p tsconfig.build.json`.
// Knobs: BENCH_DNSSEC_DO (0,10,100), BENCH_DNSSEC_SERVERS (unsigned,signed),
// DNSSEC_ALGORITHM, BENCH_DOMAINS, BENCH_NODES, BENCH_REAL_* (bench/realistic.mjs).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGslbSeed, writeCountryCsv } from './gslb-seed.mjs';
import { processCpuSeconds, treeCpuSeconds } from './proc.mjs';
import { REAL, compileRealgen, readRealgen, realgenArgs } from './realistic.mjs';
import { CIRRUS_NODE_FLAGS, cpuPlan, envNum, freePort, ProcessSet, sleep } from './servers.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/src/cli.js');
const P = {
  domains: envNum('BENCH_DOMAINS', 10000),
  nodes: envNum('BENCH_NODES', 200),
  dos: (process.env.BENCH_DNSSEC_DO ?? '0,10,100').split(',').map(Number),
  servers: (process.env.BENCH_DNSSEC_SERVERS ?? 'unsigned,signed').split(','),
  algorithm: process.env.DNSSEC_ALGORITHM ?? 'ecdsap256sha256',
  repeat: envNum('BENCH_DNSSEC_REPEAT', 2),
};
const PLAN = cpuPlan();
const DEADLINE_MS = (envNum('BENCH_DEADLINE_SECONDS', 420) - 10) * 1000;
const tmp = mkdtempSync(join(tmpdir(), 'cirrus-dnssec-bench-'));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const procs = new ProcessSet({ tmp, log, plan: PLAN });
const cleanup = procs.exitOnSignalsAndDeadline(DEADLINE_MS);

function dig(port, ...args) {
  const r = spawnSync('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.status === 0 ? r.stdout : '';
}

async function waitForDns(server, zone) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (procs.exited(server.name))
      throw new Error(
        `${server.name} exited:\n${readFileSync(server.logFile, 'utf8').slice(-3000)}`,
      );
    if (/\bSOA\b/.test(dig(server.port, '+noall', '+answer', zone, 'SOA'))) {
      procs.remember(server.name);
      return;
    }
    await sleep(200);
  }
  throw new Error(`${server.name} did not answer on 127.0.0.1:${server.port} in 60 s`);
}

/** Runs realgen on the load CPUs until it exits by itself; its output. */
function runRealgenProcess(name, realgen, args, limitSeconds) {
  const outFile = join(tmp, `${name}.out`);
  const fd = openSync(outFile, 'w');
  const [c, a] = PLAN.onCpus(PLAN.loadCpus, realgen, args);
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
      if (code !== 0) rej(new Error(`realgen exited ${code}:\n${text.slice(-2000)}`));
      else res(text);
    });
  });
}

/** The DNSSEC numbers of /metrics (summed over label sets), or zeros. */
async function dnssecCounters(server) {
  const text = await (await fetch(`http://127.0.0.1:${server.api}/metrics`)).text();
  const value = (name) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  return {
    signatures: value('cirrus_dnssec_signatures_total'),
    hits: value('cirrus_dnssec_signature_cache_hits_total'),
    entries: value('cirrus_dnssec_signature_cache_entries'),
    truncated: value('cirrus_dns_truncated_total'),
  };
}

/** Waits (up to 15 s) until the server's tree is idle, so the next run starts clean. */
async function settle(server) {
  let cpu = treeCpuSeconds(server.pid);
  const t0 = Date.now();
  while (Date.now() - t0 < 15_000) {
    await sleep(200);
    const now = treeCpuSeconds(server.pid);
    if (now - cpu <= 0.01) break;
    cpu = now;
  }
}

function cirrusEnv(extra) {
  // Response rate limiting off: the load comes from 512 loopback addresses (bench/README.md).
  const env = { ...process.env, LOG_LEVEL: 'warn', DNS_RRL_RATE: '0', ...extra };
  for (const k of ['REDIS_URL', 'CNAME_BASE_DOMAIN']) delete env[k];
  return env;
}

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
  writeFileSync(cirrusConfig, JSON.stringify({ geo: { databases: [mmdb] } }));
  const seed = join(tmp, 'seed');
  writeGslbSeed(seed, P.domains, P.nodes);
  const baseEnv = cirrusEnv({
    CIRRUS_CONFIG: cirrusConfig,
    SEED_DIR: seed,
    STATE_FILE: '',
    CIRRUS_UDP_BATCH: 'off',
  });
  const zoneText = execFileSync(process.execPath, [CLI, 'zone', 'export'], {
    env: baseEnv,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const zone = /^\$ORIGIN (\S+)/m.exec(zoneText)?.[1];
  const names = [...zoneText.matchAll(/^(\S+-example-com\.\S+)\s+\d+\s+IN\s+A\s/gm)].map(
    (m) => m[1],
  );
  if (!zone || names.length !== P.domains)
    throw new Error(`zone export: ${names.length} base names`);
  const namesFile = join(tmp, 'names.txt');
  writeFileSync(namesFile, names.join('\n') + '\n');
  const realgen = compileRealgen(tmp);

  // Both servers up at once, each pinned to the server core; the runs alternate between
  // them (DO share by DO share, `repeat` rounds), so a load that comes and goes on a shared
  // machine falls on both alike.
  const servers = [];
  for (const kind of P.servers) {
    const port = await freePort();
    const api = await freePort();
    const env = {
      ...baseEnv,
      DNS_LISTEN: `127.0.0.1:${port}`,
      API_LISTEN: `127.0.0.1:${api}`,
      DNSSEC: kind === 'signed' ? 'on' : 'off',
      DNSSEC_ALGORITHM: P.algorithm,
    };
    const s = procs.launch(kind, process.execPath, [...CIRRUS_NODE_FLAGS, CLI, 'serve'], { env });
    s.port = port;
    s.api = api;
    await waitForDns(s, zone);
    const probe = dig(port, '+dnssec', '+noall', '+answer', names[0], 'A');
    if (kind === 'signed' && !/\sRRSIG\s/.test(probe)) throw new Error(`no RRSIG: ${probe}`);
    log(`${kind} pid ${s.pid} on 127.0.0.1:${port}`);
    servers.push(s);
  }
  const results = [];
  for (let round = 1; round <= P.repeat; round++)
    for (const doPct of P.dos)
      for (const s of servers) {
        const kind = s.name;
        const pids = procs.pids(kind);
        const args = realgenArgs({ port: s.port, namesFile, zone, pids, doPct });
        const limit = REAL.warmupSeconds + REAL.seconds + REAL.latencySeconds + 10;
        const before = await dnssecCounters(s);
        const t0 = Date.now();
        const r = readRealgen(
          await runRealgenProcess(`realgen-${kind}-${doPct}`, realgen, args, limit),
        );
        const seconds = (Date.now() - t0) / 1000;
        const after = await dnssecCounters(s);
        const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]));
        const row = {
          server: kind,
          round,
          doPct,
          doShare: r.stream.doShare,
          max: r.max,
          fixed: r.fixed,
          seconds,
          signatures: delta.signatures,
          signaturesPerSecond: delta.signatures / seconds,
          cacheHits: delta.hits,
          cacheEntries: after.entries,
          truncated: delta.truncated,
        };
        results.push(row);
        log(
          `${kind} DO ${doPct} % (round ${round}): max ${Math.round(r.max.qps)} QPS, ${r.max.serverCpuUsPerQuery.toFixed(1)} µs/q; ` +
            `@${REAL.latencyQps}: ${r.fixed.serverCpuUsPerQuery.toFixed(1)} µs/q p99 ${r.fixed.p99Ms.toFixed(3)} ms lost ${r.fixed.lost}; ` +
            `${delta.signatures} signatures (${row.signaturesPerSecond.toFixed(0)}/s), cache ${after.entries} entries`,
        );
        await settle(s);
      }
  await procs.stop(servers.map((s) => s.name));
  const report = {
    date,
    machine: { cpus: PLAN.cpus, pinned: PLAN.pin, loadavgStart: loadStart, loadavgEnd: loadavg() },
    params: { ...P, realistic: REAL },
    results,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results/dnssec-latest.json'),
    JSON.stringify(report, null, 2) + '\n',
  );
  console.log(table(report).join('\n'));
}

const f0 = (x) => Math.round(x).toLocaleString('en-US');
const f1 = (x) => x.toFixed(1);

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/** The Markdown table bench/README.md quotes: medians over the rounds. */
function table({ results, params }) {
  const rows = [];
  for (const server of params.servers)
    for (const doPct of params.dos) {
      const rs = results.filter((r) => r.server === server && r.doPct === doPct);
      if (!rs.length) continue;
      rows.push({
        server,
        doPct,
        qps: median(rs.map((r) => r.max.qps)),
        cpuMax: median(rs.map((r) => r.max.serverCpuUsPerQuery)),
        cpuFixed: median(rs.map((r) => r.fixed.serverCpuUsPerQuery)),
        p50: median(rs.map((r) => r.fixed.p50Ms)),
        p99: median(rs.map((r) => r.fixed.p99Ms)),
        lost: median(rs.map((r) => r.fixed.lost)),
        signatures: median(rs.map((r) => r.signatures)),
        perSecond: median(rs.map((r) => r.signaturesPerSecond)),
        entries: Math.max(...rs.map((r) => r.cacheEntries)),
      });
    }
  const base = (doPct, key) =>
    rows.find((r) => r.server === 'unsigned' && r.doPct === doPct)?.[key];
  const q = params.realistic.latencyQps / 1000;
  const out = [
    `| server | DO | max QPS | CPU µs/q (max) | × unsigned | CPU µs/q @${q}k | × unsigned | p50 / p99 ms @${q}k (lost) | signatures per run (per s) | cache entries |`,
    '| ------ | -: | ------: | -------------: | ---------: | ------: | ------: | ------: | ------: | ------: |',
  ];
  const ratio = (x, b) => (b ? (x / b).toFixed(2) : '-');
  for (const r of rows)
    out.push(
      `| ${r.server} | ${r.doPct} % | ${f0(r.qps)} | ${f1(r.cpuMax)} | ${ratio(r.cpuMax, base(r.doPct, 'cpuMax'))} | ` +
        `${f1(r.cpuFixed)} | ${ratio(r.cpuFixed, base(r.doPct, 'cpuFixed'))} | ${r.p50.toFixed(3)} / ${r.p99.toFixed(3)} (${f0(r.lost)}) | ` +
        `${f0(r.signatures)} (${f0(r.perSecond)}) | ${f0(r.entries)} |`,
    );
  return out;
}

main().then(
  () => cleanup(0),
  (err) => {
    log(err.stack ?? String(err));
    void cleanup(1);
  },
);
