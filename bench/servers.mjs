// What the bench scripts share for running servers side by side: CPU pinning (each server
// on a core of its own, load generators on the others), free loopback ports, a registry of
// the processes a script started (stopped by their pids, their whole trees, never others'),
// clean-up on signals and at a deadline, and NSD's config.
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { processTree } from './proc.mjs';

/**
 * The Node flags Cirrus is served with, as `npm start` and the Docker image run it: Node
 * 24 sizes the young generation up to 64 MB semi-spaces on this machine, which at 100,000
 * domains cost about 100 MB of RSS and scavenges of 20–100 ms (README, Running in production).
 * BENCH_CIRRUS_NODE_FLAGS replaces them ('' for Node's defaults).
 */
export const CIRRUS_NODE_FLAGS = (process.env.BENCH_CIRRUS_NODE_FLAGS ?? '--max-semi-space-size=4')
  .split(' ')
  .filter(Boolean);

export const envNum = (name, def) => (process.env[name] ? Number(process.env[name]) : def);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The pinning plan: the last core for the server, the others for load (BENCH_PIN=0 turns
 * pinning off; one core: no pinning).
 */
export function cpuPlan() {
  const cpus = availableParallelism();
  const pin = cpus >= 2 && envNum('BENCH_PIN', 1) === 1;
  return {
    cpus,
    pin,
    serverCpus: String(cpus - 1),
    loadCpus: cpus > 2 ? `0-${cpus - 2}` : '0',
    /** [command, args] running `cmd` on `cpus` when pinning (cpus undefined: anywhere). */
    onCpus: (cpus_, cmd, args) =>
      pin && cpus_ ? ['taskset', ['-c', cpus_, cmd, ...args]] : [cmd, args],
  };
}

/** A port free for both UDP and TCP on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const udp = createSocket('udp4');
    udp.once('error', rej);
    udp.bind(0, '127.0.0.1', () => {
      const port = udp.address().port;
      const tcp = createServer();
      tcp.once('error', () => {
        udp.close();
        freePort().then(res, rej);
      });
      tcp.listen(port, '127.0.0.1', () => tcp.close(() => udp.close(() => res(port))));
    });
  });
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The processes one bench script started, by name: each with every pid of its tree seen so
 * far (remember), so a stop reaches children that outlived their parent.
 */
export class ProcessSet {
  /** name → { child, pids: Set<number>, exited: boolean } */
  started = new Map();

  constructor({ tmp, log, plan }) {
    this.tmp = tmp;
    this.log = log;
    this.plan = plan;
    this.stopping = false;
  }

  track(name, child) {
    this.started.set(name, { child, pids: new Set([child.pid]), exited: false });
    child.on('exit', () => {
      const s = this.started.get(name);
      if (s) s.exited = true;
    });
  }

  /** Adds the current members of `name`'s process tree to what a stop kills. */
  remember(name) {
    const s = this.started.get(name);
    if (s && !s.exited) for (const pid of processTree(s.child.pid)) s.pids.add(pid);
  }

  pids(name) {
    this.remember(name);
    return [...(this.started.get(name)?.pids ?? [])];
  }

  exited(name) {
    return this.started.get(name)?.exited ?? false;
  }

  forget(name) {
    this.started.delete(name);
  }

  /**
   * Starts a server with its output in `<tmp>/<name>.log`, pinned to the server core unless
   * `pin: false` (Cirrus with DNS workers).
   */
  launch(name, cmd, args, opts = {}) {
    const logFile = join(this.tmp, `${name}.log`);
    const fd = openSync(logFile, 'w');
    const { pin = true, ...spawnOpts } = opts;
    const [c, a] = this.plan.onCpus(pin ? this.plan.serverCpus : undefined, cmd, args);
    const child = spawn(c, a, { cwd: this.tmp, ...spawnOpts, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.track(name, child);
    return { name, pid: child.pid, child, logFile };
  }

  /** SIGTERM (dnsperf: SIGINT) to each named process, SIGKILL to what is left after 5 s. */
  async stop(names) {
    for (const name of names) this.remember(name);
    for (const name of names) {
      const s = this.started.get(name);
      if (s && alive(s.child.pid)) s.child.kill(name.startsWith('dnsperf') ? 'SIGINT' : 'SIGTERM');
    }
    const pids = names.flatMap((n) => [...(this.started.get(n)?.pids ?? [])]);
    const until = Date.now() + 5000;
    while (Date.now() < until && pids.some(alive)) await sleep(100);
    for (const pid of pids) {
      if (!alive(pid)) continue;
      this.log(`pid ${pid} did not stop on SIGTERM; SIGKILL`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    for (const n of names) this.started.delete(n);
  }

  stopAll() {
    return this.stop([...this.started.keys()]);
  }

  /**
   * On SIGINT/SIGTERM/SIGHUP and at `deadlineMs`: stops everything, removes the temp dir
   * (kept with BENCH_KEEP=1) and exits.
   */
  exitOnSignalsAndDeadline(deadlineMs) {
    const cleanup = async (code) => {
      if (this.stopping) return;
      this.stopping = true;
      await this.stopAll();
      if (process.env.BENCH_KEEP === '1') this.log(`temp dir kept: ${this.tmp}`);
      else rmSync(this.tmp, { recursive: true, force: true });
      process.exit(code);
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void cleanup(130));
    setTimeout(() => {
      this.log(`deadline of ${deadlineMs / 1000}s reached; stopping`);
      void cleanup(124);
    }, deadlineMs).unref();
    return cleanup;
  }
}

/**
 * NSD for one zone file `bench.zone` in `dir`. `rrl`: NSD's default response rate limiting
 * (200/s, slip 2, /24 and /56) written out; otherwise off, as the load comes from few
 * addresses.
 */
export function nsdConf(dir, port, zone, { rrl = false } = {}) {
  const limits = rrl
    ? `  rrl-ratelimit: 200
  rrl-slip: 2
  rrl-ipv4-prefix-length: 24
  rrl-ipv6-prefix-length: 56
`
    : `  rrl-ratelimit: 0
`;
  return `server:
  ip-address: 127.0.0.1
  port: ${port}
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  database: ""
  zonelistfile: "${dir}/zone.list"
  pidfile: "${dir}/nsd.pid"
  xfrdfile: ""
  xfrdir: "${dir}"
  logfile: "${dir}/nsd.log"
  verbosity: 1
${limits}remote-control:
  control-enable: no
zone:
  name: "${zone}"
  zonefile: "bench.zone"
`;
}
