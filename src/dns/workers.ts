// DNS workers (dns.workers > 0): node:cluster processes that answer UDP, so queries use
// every core. Where the runtime can (Node >= 22.12, a kernel with SO_REUSEPORT) each worker
// binds its own socket per address with SO_REUSEPORT and the kernel spreads datagrams over
// them, so workers never wake each other; elsewhere they share the cluster's one socket per
// address. The main process keeps everything else: the store, snapshot builds, TCP,
// transfers, UPDATE, probes, ACME and the API. Each published snapshot's recipe is sent to
// one worker at a time: while one rebuilds, the others keep answering, so a large rebuild
// never stops UDP answers. A worker that dies is started again on the same ports.
import cluster, { type Worker } from 'node:cluster';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import { parseListen } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/logger.js';
import type { BuildRecipe } from '../snapshot/from-store.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { CookieSecrets } from '../wire/cookie.js';
import type { Handler } from '../pipeline/handler.js';
import { freeUdpTcpPort, reusePortWorks } from './udp.js';
import type { UdpPath } from './udp-batch.js';
import { PendingReplies, type FromWorker, type ToWorker } from './worker-protocol.js';
import type { HealthBounds } from '../gslb/health-bound.js';
import { asBuffer, encodeRecipe, type EncodedRecipe } from '../snapshot/recipe-codec.js';

export interface DnsWorkersDeps {
  config: Config;
  logger: Logger;
  /** The main process's live snapshot and how it was built. */
  current: () => Snapshot;
  recipe: () => BuildRecipe;
  /** Answers what workers forward (the main process's DNS handler). */
  handle: Handler;
  registry: Registry;
}

/**
 * How workers bind UDP: `reuseport`, each its own socket with SO_REUSEPORT; `shared`, the
 * one socket per address the cluster primary holds and hands to every worker.
 */
export type UdpMode = 'reuseport' | 'shared';

export interface WorkerStatus {
  index: number;
  udp: UdpMode;
  /** Which code answers UDP in the worker (known once it listens). */
  udpPath?: UdpPath;
  /** Absent while no process runs for the slot. */
  pid?: number;
  ready: boolean;
  generation: number;
  restarts: number;
}

/** How long a worker may take to build one snapshot before the feed moves on. */
const FEED_TIMEOUT_MS = 120_000;
const RESTART_DELAY_MS = 1_000;
const METRICS_TIMEOUT_MS = 2_000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** Listening, i.e. answering queries. */
  ready: boolean;
  udpPath: UdpPath | undefined;
  /** The generation of the snapshot it answers from (-1: none yet). */
  generation: number;
  restarts: number;
  /** Settles the wait for this worker's next published/build-failed/exit. */
  settle: (() => void) | undefined;
  /** While it starts: resolved with its ports when it listens, rejected if it exits first. */
  starting: { resolve: (ports: number[]) => void; reject: (err: Error) => void } | undefined;
}

function workerEntry(): string {
  // The same extension as this module: .js when built, .ts under tsx (tests).
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./worker-main${extname(here)}`, import.meta.url));
}

export class DnsWorkers {
  private readonly slots: Slot[];
  private stopping = false;
  private pumping = false;
  private encoded: { generation: number; recipe: Promise<EncodedRecipe> } | undefined;
  private announced = -1;
  private mode: UdpMode = 'shared';
  /** With `reuseport`: the ports the first worker bound, which every later one binds too. */
  private ports: number[] | null = null;
  private readonly listeners = new Set<(s: Snapshot) => void>();
  private caughtUpWaiters: Array<{ generation: number; resolve: () => void }> = [];
  /** Workers' metrics asked for by /metrics; a worker that does not answer counts nothing. */
  private readonly metricRequests = new PendingReplies<unknown[]>(METRICS_TIMEOUT_MS, []);
  private readonly restartsTotal: Counter;
  private readonly onClusterMessage = (worker: Worker, m: FromWorker) => this.message(worker, m);

  constructor(private readonly deps: DnsWorkersDeps) {
    this.slots = Array.from({ length: deps.config.dns.workers }, (_, index) => ({
      index,
      worker: undefined,
      ready: false,
      udpPath: undefined,
      generation: -1,
      restarts: 0,
      settle: undefined,
      starting: undefined,
    }));
    this.restartsTotal = new Counter({
      name: 'cirrus_dns_worker_restarts_total',
      help: 'DNS worker processes started again after they exited',
      registers: [deps.registry],
    });
    const slots = this.slots;
    new Gauge({
      name: 'cirrus_dns_workers_ready',
      help: 'DNS worker processes answering UDP',
      registers: [deps.registry],
      collect() {
        this.set(slots.filter((s) => s.ready).length);
      },
    });
  }

  /** Starts every worker; resolves with the UDP ports they share, one per `dns.listen`. */
  async start(): Promise<number[]> {
    const hosts = this.deps.config.dns.listen.map((text) => parseListen(text).host);
    const works = await Promise.all(hosts.map((host) => reusePortWorks(host)));
    this.mode = works.every(Boolean) ? 'reuseport' : 'shared';
    this.deps.logger.info(
      { udp: this.mode, node: process.version },
      this.mode === 'reuseport'
        ? 'dns workers bind their own UDP sockets with SO_REUSEPORT'
        : 'dns workers share one UDP socket per address (this runtime cannot use reusePort)',
    );
    cluster.setupPrimary({ exec: workerEntry(), serialization: 'advanced' });
    cluster.on('message', this.onClusterMessage);
    // The first worker binds (port 0 becomes a real one); the others bind the same ports
    // with SO_REUSEPORT, or share its sockets.
    const [first, ...rest] = this.slots;
    if (!first) return [];
    // With reusePort and port 0, the port is chosen here, free for TCP too: the main process
    // listens on TCP at the port the workers bind (see freeUdpTcpPort).
    if (this.mode === 'reuseport') {
      const listen = this.deps.config.dns.listen.map((text) => parseListen(text));
      if (listen.some((l) => l.port === 0))
        this.ports = await Promise.all(
          listen.map((l) => (l.port === 0 ? freeUdpTcpPort(l.host) : Promise.resolve(l.port))),
        );
    }
    const ports = await this.launch(first);
    if (this.mode === 'reuseport') this.ports = ports;
    const others = await Promise.all(rest.map((s) => this.launch(s)));
    for (const p of others) {
      if (p.join() !== ports.join())
        throw new Error(`DNS workers bound different ports: ${ports.join()} and ${p.join()}`);
    }
    void this.pump();
    return ports;
  }

  /** Called for each snapshot the main process publishes: workers follow, one at a time. */
  published(): void {
    if (!this.stopping) void this.pump();
  }

  /** Resolves once every answering worker serves the main process's current snapshot. */
  caughtUp(): Promise<void> {
    const generation = this.deps.current().generation;
    if (this.minGeneration() >= generation) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push({ generation, resolve }));
  }

  /** Like SnapshotManager.onPublish, but fires once every worker answers from the snapshot. */
  onPublish(listener: (s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): WorkerStatus[] {
    return this.slots.map((s) => ({
      index: s.index,
      udp: this.mode,
      ...(s.udpPath ? { udpPath: s.udpPath } : {}),
      ...(s.worker?.process.pid === undefined ? {} : { pid: s.worker.process.pid }),
      ready: s.ready,
      generation: s.generation,
      restarts: s.restarts,
    }));
  }

  /** The main registry's metrics with every worker's added in (counters summed). */
  async metrics(): Promise<string> {
    const own = await this.deps.registry.getMetricsAsJSON();
    const theirs = await Promise.all(
      this.slots
        .filter((s) => s.ready && s.worker?.isConnected())
        .map((s) => this.metricRequests.open((id) => this.send(s, { t: 'metrics', id }))),
    );
    // Workers export only DNS and GSLB counters (summed); the process metrics are this
    // process's alone, and some say 'omit' for cluster use: keep them as they are.
    const mine = own.map((m) =>
      m.aggregator === 'omit' ? { ...m, aggregator: 'first' as const } : m,
    );
    // `aggregate` takes getMetricsAsJSON() output; the workers' crossed IPC unchanged.
    const all = [mine, ...theirs] as Parameters<typeof AggregatorRegistry.aggregate>[0];
    return AggregatorRegistry.aggregate(all).metrics();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    cluster.off('message', this.onClusterMessage);
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        s.ready = false;
        if (!w || w.isDead()) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        this.send(s, { t: 'stop' });
        const timer = setTimeout(() => w.process.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    for (const w of this.caughtUpWaiters.splice(0)) w.resolve();
  }

  private minGeneration(): number {
    let min = Infinity;
    for (const s of this.slots) if (s.ready && s.generation < min) min = s.generation;
    return min;
  }

  private cookieSecrets: { current: Uint8Array; previous: Uint8Array | undefined } | undefined;

  /** Hands the DNS cookie secrets to every worker, and to each one started later. */
  cookies(secrets: CookieSecrets): void {
    this.cookieSecrets = { current: secrets.current, previous: secrets.previous };
    for (const slot of this.slots) this.send(slot, { t: 'cookies', ...this.cookieSecrets });
  }

  private health: Extract<ToWorker, { t: 'health' }> | undefined;

  /** Hands the health checker's node bounds to every worker, and to each one started later. */
  healthBounds(bounds: HealthBounds): void {
    const nodes: Array<[string, number, boolean, boolean | null]> = [];
    for (const [id, b] of bounds.nodes) nodes.push([id, b.at, b.unknown, b.up ?? null]);
    this.health = { t: 'health', settings: bounds.settings, nodes };
    for (const slot of this.slots) this.send(slot, this.health);
  }

  private send(slot: Slot, message: ToWorker): void {
    const w = slot.worker;
    if (w?.isConnected()) w.send(message);
  }

  /** The current snapshot's recipe, encoded once for every worker. */
  private currentRecipe(): { generation: number; recipe: Promise<EncodedRecipe> } {
    const generation = this.deps.current().generation;
    if (this.encoded?.generation !== generation)
      this.encoded = { generation, recipe: encodeRecipe(this.deps.recipe()) };
    return this.encoded;
  }

  /** Forks the slot's worker; resolves with its ports once it answers (see `message`). */
  private launch(slot: Slot): Promise<number[]> {
    const worker = cluster.fork();
    Object.assign(slot, { worker, ready: false, generation: -1 });
    worker.on('exit', (code, signal) => this.exited(slot, worker, code, signal));
    return new Promise((resolve, reject) => (slot.starting = { resolve, reject }));
  }

  private exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.starting?.reject(
      new Error(`DNS worker ${slot.index} exited (code ${code}) before it answered`),
    );
    slot.starting = undefined;
    slot.ready = false;
    slot.settle?.();
    this.settleWaiters();
    if (this.stopping) return;
    this.deps.logger.error(
      { worker: slot.index, pid: worker.process.pid, code, signal },
      'dns worker exited; starting it again',
    );
    setTimeout(() => {
      if (this.stopping) return;
      slot.restarts++;
      this.restartsTotal.inc();
      this.launch(slot).then(
        () => void this.pump(),
        (err: unknown) =>
          this.deps.logger.error({ err, worker: slot.index }, 'dns worker restart failed'),
      );
    }, RESTART_DELAY_MS).unref();
  }

  private message(worker: Worker, m: FromWorker): void {
    const slot = this.slots.find((s) => s.worker === worker);
    if (!slot) return;
    switch (m.t) {
      case 'published':
        slot.generation = Math.max(slot.generation, m.generation);
        slot.settle?.();
        this.settleWaiters();
        return;
      case 'build-failed':
        this.deps.logger.error(
          { worker: slot.index, generation: m.generation, error: m.error },
          'dns worker could not build a snapshot; it keeps its previous one',
        );
        slot.settle?.();
        return;
      case 'forward':
        this.forward(slot, m.id, asBuffer(m.msg), m.address, m.port);
        return;
      case 'metrics':
        this.metricRequests.settle(m.id, m.metrics);
        return;
      case 'hello': {
        // Not 'online': that comes before the worker's module listens for messages.
        this.send(slot, {
          t: 'init',
          index: slot.index,
          config: this.deps.config,
          udp: { reusePort: this.mode === 'reuseport', ports: this.ports },
        });
        const secrets = this.cookieSecrets;
        if (secrets) this.send(slot, { t: 'cookies', ...secrets });
        if (this.health) this.send(slot, this.health);
        const { generation, recipe } = this.currentRecipe();
        recipe.then(
          (r) => this.send(slot, { t: 'snapshot', generation, recipe: r }),
          (err: unknown) =>
            slot.starting?.reject(err instanceof Error ? err : new Error(String(err))),
        );
        return;
      }
      case 'listening':
        slot.ready = true;
        slot.udpPath = m.udpPath;
        this.deps.logger.info(
          { worker: slot.index, pid: worker.process.pid, udpPath: m.udpPath },
          'dns worker ready',
        );
        slot.starting?.resolve(m.ports);
        slot.starting = undefined;
        this.settleWaiters();
        return;
    }
  }

  private forward(slot: Slot, id: number, msg: Buffer, address: string, port: number): void {
    const reply = (messages: readonly Buffer[]) =>
      this.send(slot, { t: 'replies', id, messages: [...messages] });
    let r;
    try {
      r = this.deps.handle(msg, 'udp', address, port);
    } catch (err) {
      this.deps.logger.error({ err }, 'forwarded request failed');
      reply([]);
      return;
    }
    if (r === undefined) reply([]);
    else if (Buffer.isBuffer(r)) reply([r]);
    else
      r.then(reply, (err: unknown) => {
        this.deps.logger.error({ err }, 'forwarded exchange failed');
        reply([]);
      });
  }

  /** Feeds the current recipe to each answering worker behind, one worker at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.stopping) return;
        const target = this.deps.current().generation;
        const slot = this.slots.find((s) => s.ready && s.generation < target);
        if (!slot) break;
        const { generation, recipe: pending } = this.currentRecipe();
        const recipe = await pending;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.deps.logger.warn(
              { worker: slot.index, generation },
              'dns worker is slow to build; feeding the next one',
            );
            done();
          }, FEED_TIMEOUT_MS);
          const done = () => {
            clearTimeout(timer);
            slot.settle = undefined;
            resolve();
          };
          slot.settle = done;
          this.send(slot, { t: 'snapshot', generation, recipe });
        });
        // A worker that failed or timed out is not retried with the same generation.
        if (slot.generation < generation && slot.ready) slot.generation = generation;
      }
    } finally {
      this.pumping = false;
    }
    this.settleWaiters();
  }

  /** Releases caughtUp() waiters and onPublish listeners the workers have reached. */
  private settleWaiters(): void {
    const min = this.minGeneration();
    const reached = this.caughtUpWaiters.filter((w) => w.generation <= min);
    this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.generation > min);
    for (const w of reached) w.resolve();
    const current = this.deps.current();
    if (current.generation <= min && current.generation > this.announced) {
      this.announced = current.generation;
      for (const l of this.listeners) {
        try {
          l(current);
        } catch (err) {
          this.deps.logger.error({ err }, 'snapshot listener failed');
        }
      }
    }
  }
}
