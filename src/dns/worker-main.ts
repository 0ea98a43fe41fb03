// A DNS worker process (dns.workers > 0): answers UDP on its own SO_REUSEPORT socket or on
// the one it shares with its siblings (see workers.ts), from its own copy of the main
// process's snapshot, rebuilt from the recipe of each snapshot the main process publishes.
// It holds no store, keys or journal: requests that need them (transfers, UPDATE, signed
// messages) are answered by the main process.
import cluster from 'node:cluster';
import { Counter } from 'prom-client';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { createRegistry } from '../metrics/registry.js';
import { HealthBounds } from '../gslb/health-bound.js';
import { GeoIp } from '../geo/geoip.js';
import { buildSteps } from '../snapshot/build.js';
import { drive } from '../lib/cooperative.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { CookieSecrets } from '../wire/cookie.js';
import { DnsServer } from './server.js';
import type { Forward } from '../pipeline/handler.js';
import { PendingReplies, type FromWorker, type ToWorker } from './worker-protocol.js';
import { asBuffer, decodeRecipe, type EncodedRecipe } from '../snapshot/recipe-codec.js';

/** A forwarded request the main process has not answered by then is dropped (as UDP may). */
const FORWARD_TIMEOUT_MS = 10_000;

type Init = Extract<ToWorker, { t: 'init' }>;

function send(message: FromWorker): void {
  process.send?.(message);
}

class Worker {
  private live: Snapshot | undefined;
  private readonly registry = createRegistry(false);
  private readonly geo: GeoIp;
  private readonly dns: DnsServer;
  /** Forwarded requests awaiting the main process's replies. */
  private readonly replies = new PendingReplies<readonly Buffer[]>(FORWARD_TIMEOUT_MS, []);
  /** Recipes are built one at a time; a newer one waiting replaces an older one. */
  private queued: { generation: number; recipe: EncodedRecipe } | undefined;
  private building = false;
  private listening = false;
  private geoReady: Promise<void> = Promise.resolve();
  /** The main process's DNS cookie secrets; until they arrive, replies carry no cookie. */
  private cookies: CookieSecrets | undefined;
  private health: HealthBounds | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    index: number,
    private readonly udp: Init['udp'],
  ) {
    // This worker's share of the queries: its own label, so the sum over workers keeps it.
    const registry = this.registry;
    new Counter({
      name: 'cirrus_dns_worker_queries_total',
      help: 'DNS queries answered by each DNS worker',
      labelNames: ['worker'] as const,
      registers: [registry],
      async collect() {
        const all = await registry.getSingleMetric('cirrus_dns_queries_total')?.get();
        const total = all?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
        this.reset();
        this.inc({ worker: String(index) }, total);
      },
    });
    // GeoIP metrics are the main process's: a worker's would only repeat them.
    this.geo = new GeoIp({
      config: config.geo,
      logger: logger.child({ component: 'geo' }),
      registry: createRegistry(false),
    });
    const forward: Forward = (msg, _transport, address, port) =>
      this.replies.open((id) => send({ t: 'forward', id, msg, address, port }));
    this.dns = new DnsServer({
      config,
      snapshot: () => this.live as Snapshot,
      logger,
      registry: this.registry,
      geo: this.geo,
      tcp: false,
      forward,
      cookieSecrets: () => this.cookies,
      health: () => this.health,
      reusePort: udp.reusePort,
      udpProcesses: config.dns.workers,
      // On the cluster's shared socket only dgram receives; with reusePort, dns.udpBatch.
      ownUdpSockets: udp.reusePort,
    });
  }

  start(): Promise<void> {
    this.geoReady = this.geo.start();
    return this.geoReady;
  }

  onMessage(m: ToWorker): void {
    switch (m.t) {
      case 'snapshot':
        this.queued = { generation: m.generation, recipe: m.recipe };
        void this.buildQueued();
        return;
      case 'replies':
        this.replies.settle(m.id, m.messages.map(asBuffer));
        return;
      case 'metrics':
        void this.registry.getMetricsAsJSON().then((metrics) => {
          send({ t: 'metrics', id: m.id, metrics });
        });
        return;
      case 'stop':
        void this.stop().then(() => process.exit(0));
        return;
      case 'cookies':
        this.cookies = {
          current: asBuffer(m.current),
          previous: m.previous && asBuffer(m.previous),
        };
        return;
      case 'health':
        this.health = new HealthBounds(
          m.settings,
          new Map(
            m.nodes.map(([id, at, unknown, up]) => [id, { at, unknown, up: up ?? undefined }]),
          ),
        );
        return;
      case 'init':
        return;
    }
  }

  private async buildQueued(): Promise<void> {
    if (this.building) return;
    this.building = true;
    try {
      while (this.queued) {
        const { generation, recipe } = this.queued;
        this.queued = undefined;
        try {
          const r = await decodeRecipe(recipe);
          const next = await drive(
            buildSteps({
              ...r,
              config: this.config,
              previousOrders: this.live?.orderMemos,
              previousStatics: this.live?.statics,
              previousSignatures: this.live?.signer?.cache,
            }),
          );
          await this.dns.prewarm(next, this.live);
          this.live = next;
          send({ t: 'published', generation });
        } catch (err) {
          this.logger.error({ err, generation }, 'worker snapshot build failed');
          send({ t: 'build-failed', generation, error: errorMessage(err) });
          continue;
        }
        // Listen once there is something to answer with.
        if (!this.listening) {
          this.listening = true;
          await this.listen();
        }
      }
    } finally {
      this.building = false;
    }
  }

  private async listen(): Promise<void> {
    try {
      await this.geoReady;
      await this.dns.start(this.udp.ports ?? undefined);
    } catch (err) {
      this.logger.fatal({ err }, 'dns worker cannot listen');
      process.exit(1);
    }
    send({
      t: 'listening',
      ports: this.dns.addresses.map((a) => a.port),
      udpPath: this.dns.udpPath ?? 'dgram',
    });
  }

  async stop(): Promise<void> {
    await this.dns.stop();
    await this.geo.stop();
  }
}

if (!cluster.isWorker) throw new Error('worker-main runs only as a cluster worker (dns.workers)');

process.once('message', (first: ToWorker) => {
  if (first.t !== 'init') throw new Error(`a DNS worker expects init first, got ${first.t}`);
  const logger = createLogger(first.config.log.level).child({
    component: 'dns-worker',
    worker: first.index,
  });
  const worker = new Worker(first.config, logger, first.index, first.udp);
  process.on('message', (m: ToWorker) => worker.onMessage(m));
  worker.start().catch((err: unknown) => {
    logger.fatal({ err }, 'dns worker failed to start');
    process.exit(1);
  });
});
send({ t: 'hello' });
// The main process is gone (or stopped us): nothing to answer for any more.
process.on('disconnect', () => process.exit(0));
