// The composition root: builds every component from the config and runs one lifecycle,
// start (GeoIP → store → seed → snapshot → health → DNS → hidden master → API) and stop
// in reverse. stop() also cleans up
// after a start that failed half-way.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { parseListen } from './config/load.js';
import type { Logger } from './lib/logger.js';
import type { Store } from './store/store.js';
import { repositories, snapshotSource, type Repositories } from './repositories.js';
import { openStore } from './open-store.js';
import { seedStore } from './domains/seed.js';
import { SnapshotManager } from './snapshot/manager.js';
import { snapshotMetrics } from './snapshot/metrics.js';
import { DnsServer, type BoundAddress } from './dns/server.js';
import { buildApi } from './api/app.js';
import { createRegistry } from './metrics/registry.js';
import { GeoIp } from './geo/geoip.js';
import { HealthChecker, healthInstanceId } from './health/checker.js';
import { TxtService } from './acme/txt-service.js';
import { CertificateService } from './acme/certificates.js';
import { updateExchange } from './acme/update.js';
import { HiddenMaster } from './xfr/master.js';
import { DnsWorkers } from './dns/workers.js';
import { CookieSecretKeeper } from './protect/cookie-secrets.js';
import type { Snapshot } from './snapshot/snapshot.js';

export interface CirrusOptions {
  config: Config;
  logger: Logger;
  /** Use this store instead of opening one from the config (tests). */
  store?: Store;
}

export class Cirrus {
  readonly config: Config;
  /** Every feature's repository over the store (`repos.store`). */
  readonly repos: Repositories;
  readonly snapshots: SnapshotManager;
  readonly registry = createRegistry();
  private readonly logger: Logger;
  private readonly dns: DnsServer;
  /** Present when dns.workers > 0: they answer UDP, this process TCP and the rest. */
  readonly workers: DnsWorkers | undefined;
  readonly geo: GeoIp;
  readonly health: HealthChecker;
  readonly txt: TxtService;
  readonly certificates: CertificateService | undefined;
  readonly master: HiddenMaster;
  /** The DNS cookie secrets this instance shares with the others on its store. */
  readonly cookies: CookieSecretKeeper;
  private api: FastifyInstance | undefined;
  apiAddress: BoundAddress | undefined;

  constructor(opts: CirrusOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    const storeLogger = opts.logger.child({ component: 'store' });
    this.repos = repositories(opts.store ?? openStore(opts.config, storeLogger), storeLogger);
    this.cookies = new CookieSecretKeeper({
      store: this.repos.cookies,
      logger: this.logger.child({ component: 'cookies' }),
      rotateHours: this.config.dns.cookies.rotateHours,
      pollSeconds: this.config.dns.cookies.pollSeconds,
      instance: healthInstanceId(this.config),
    });
    this.snapshots = new SnapshotManager({
      config: this.config,
      store: snapshotSource(this.repos),
      logger: this.logger.child({ component: 'snapshot' }),
      metrics: snapshotMetrics(this.registry),
      // Answers repeated before the swap are answered warm after it.
      beforePublish: (next, previous) => this.dns.prewarm(next, previous),
    });
    this.geo = new GeoIp({
      config: this.config.geo,
      logger: this.logger.child({ component: 'geo' }),
      registry: this.registry,
    });
    this.health = new HealthChecker({
      config: this.config,
      repos: this.repos,
      logger: this.logger.child({ component: 'health' }),
      registry: this.registry,
      instanceId: healthInstanceId(this.config),
    });
    this.txt = new TxtService({
      config: this.config,
      repos: this.repos,
      snapshot: () => this.snapshots.current,
      flush: () => this.flush(),
      // The hidden master's barrier: every configured secondary serves the serial.
      awaitSerial: (serial, timeoutMs) => this.master.awaitSerial(serial, timeoutMs),
    });
    this.certificates = this.config.acme.issuer.enabled
      ? new CertificateService({
          config: this.config,
          repos: this.repos,
          txt: this.txt,
          logger: this.logger.child({ component: 'acme' }),
          registry: this.registry,
        })
      : undefined;
    this.master = new HiddenMaster({
      config: this.config,
      repos: this.repos,
      snapshot: () => this.snapshots.current,
      // NOTIFY once every process answers with the new serial.
      onPublish: (listener) => this.onPublish(listener),
      logger: this.logger.child({ component: 'xfr' }),
      registry: this.registry,
    });
    this.dns = new DnsServer({
      config: this.config,
      snapshot: () => this.snapshots.current,
      logger: this.logger.child({ component: 'dns' }),
      registry: this.registry,
      geo: this.geo,
      exchanges: [
        this.master.exchange,
        updateExchange({
          config: this.config,
          repos: this.repos,
          txt: this.txt,
          logger: this.logger.child({ component: 'update' }),
        }),
      ],
      keyring: () => this.master.keyring,
      cookieSecrets: this.cookies.secrets,
      udp: this.config.dns.workers === 0,
    });
    this.workers =
      this.config.dns.workers > 0
        ? new DnsWorkers({
            config: this.config,
            logger: this.logger.child({ component: 'dns-workers' }),
            current: () => this.snapshots.current,
            recipe: () => this.snapshots.currentRecipe,
            handle: this.dns.handle,
            registry: this.registry,
          })
        : undefined;
    this.snapshots.onPublish(() => this.workers?.published());
    this.cookies.onChange((secrets) => this.workers?.cookies(secrets));
  }

  /** Resolves once a snapshot built after the call is what every process answers from. */
  async flush(): Promise<void> {
    await this.snapshots.flush();
    await this.workers?.caughtUp();
  }

  private onPublish(listener: (s: Snapshot) => void): () => void {
    return this.workers ? this.workers.onPublish(listener) : this.snapshots.onPublish(listener);
  }

  get dnsAddresses(): readonly BoundAddress[] {
    return this.dns.addresses;
  }

  async start(): Promise<void> {
    try {
      await this.geo.start();
      await this.repos.store.start();
      if (this.config.seed.dir) {
        const seeded = await seedStore(this.config, this.repos, this.config.seed.dir);
        if (seeded.seeded)
          this.logger.info({ dir: this.config.seed.dir, ...seeded }, 'empty store seeded');
      }
      await this.snapshots.start();
      const s = this.snapshots.current;
      this.logger.info(
        { zone: s.zone.name, serial: s.serial, domains: s.domains.size, nodes: s.nodes.length },
        'snapshot ready',
      );
      if (this.config.dns.cookies.enabled) await this.cookies.start();
      // Probes start after the first snapshot: answers already serve the stored health
      // (warm start) while the first rounds settle.
      await this.health.start();
      // Workers bind UDP first: with port 0 their shared socket picks the port TCP takes.
      await this.dns.start(this.workers ? await this.workers.start() : undefined);
      await this.certificates?.start();
      // After DNS: a NOTIFY is answered by a transfer request at once.
      await this.master.start();
      const workers = this.workers;
      this.api = await buildApi({
        config: this.config,
        repos: this.repos,
        snapshot: () => this.snapshots.current,
        flush: () => this.flush(),
        lastBuildError: () => this.snapshots.lastBuildError,
        registry: this.registry,
        ...(workers
          ? { metricsText: () => workers.metrics(), dnsWorkers: () => workers.status() }
          : {}),
        logger: this.logger,
        geo: this.geo,
        health: () => this.health.status(),
        txt: this.txt,
        certificates: this.certificates,
        secondaries: () => this.master.status(),
        awaitSerial: (serial, timeoutMs) => this.master.awaitSerial(serial, timeoutMs),
        rotateCookies: () => this.cookies.rotate(),
      });
      const { host, port } = parseListen(this.config.api.listen);
      await this.api.listen({ host, port });
      const addr = this.api.server.address();
      this.apiAddress = { host, port: typeof addr === 'object' && addr ? addr.port : port };
      this.logger.info(this.apiAddress, 'admin api listening');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const steps: Array<() => Promise<unknown>> = [
      async () => this.api?.close(),
      async () => this.certificates?.stop(),
      () => this.master.stop(),
      () => this.dns.stop(),
      async () => this.workers?.stop(),
      () => this.health.stop(),
      () => this.snapshots.stop(),
      async () => this.cookies.stop(),
      () => this.repos.store.stop(),
      () => this.geo.stop(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        this.logger.warn({ err }, 'error while stopping');
      }
    }
    this.api = undefined;
  }
}
