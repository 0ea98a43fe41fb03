// The composition root: builds every component from the config and runs one lifecycle,
// start (GeoIP → store → seed → snapshot → health → DNS → hidden master → API) and stop
// in reverse. stop() also cleans up
// after a start that failed half-way.
import { ensureZoneKey } from './dnssec/key-repository.js';
import { algorithmNumber } from './dnssec/algorithm.js';
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
import { buildExternalDnsApi } from './api/externaldns.js';
import { ExternalDnsProvider } from './externaldns/provider.js';
import { createRegistry } from './metrics/registry.js';
import { GeoIp } from './geo/geoip.js';
import { HealthChecker, healthInstanceId } from './health/checker.js';
import type { HealthBounds } from './gslb/health-bound.js';
import { HealthEvents } from './health/events.js';
import { TxtService } from './acme/txt-service.js';
import { CertificateService } from './acme/certificates.js';
import { updateExchange } from './acme/update.js';
import { zoneUpdateExchange } from './xfr/update.js';
import { HiddenMaster } from './xfr/master.js';
import { DnsWorkers } from './dns/workers.js';
import { CookieSecretKeeper } from './protect/cookie-secrets.js';
import type { Snapshot } from './snapshot/snapshot.js';
import {
  LastKnownGoodWriter,
  readLastKnownGood,
  type LastKnownGood,
} from './snapshot/last-known-good.js';
import { errorMessage } from './lib/errors.js';
import { InstanceTracker } from './snapshot/instances.js';

/** How often a start without the store tries to reach it again. */
const STORE_RETRY_MS = 1000;

export interface CirrusOptions {
  config: Config;
  logger: Logger;
  /** Use this store instead of opening one from the config (tests). */
  store?: Store;
  /** The clock snapshot builds read (ms), Date.now by default: tests move a build in time. */
  now?: () => number;
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
  /** The ExternalDNS webhook listener, when externalDns.enabled. */
  private externalDns: FastifyInstance | undefined;
  externalDnsAddress: BoundAddress | undefined;
  /** The live snapshot on disk; with the Redis store only (the embedded store is local). */
  private readonly lkg: LastKnownGoodWriter | undefined;
  /** Why the last-known-good file was not used (set aside as corrupt), if it was not. */
  private lkgProblem: string | undefined;
  private storeUp = true;
  private storeRetry: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly instances: InstanceTracker;
  /** The health checker's latest node bounds (answers' TTLs); undefined while it has none. */
  private healthBounds: HealthBounds | undefined;

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
    const lkgFile = this.config.snapshot.lkgFile;
    this.lkg =
      lkgFile && this.repos.store.kind === 'redis'
        ? new LastKnownGoodWriter(
            lkgFile,
            this.config.zone.name,
            this.logger.child({ component: 'last-known-good' }),
          )
        : undefined;
    this.snapshots = new SnapshotManager({
      lastKnownGood: this.lkg,
      config: this.config,
      store: snapshotSource(this.repos),
      logger: this.logger.child({ component: 'snapshot' }),
      metrics: snapshotMetrics(this.registry),
      ...(opts.now ? { now: opts.now } : {}),
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
      onBounds: (bounds) => {
        this.healthBounds = bounds;
        this.workers?.healthBounds(bounds);
      },
      events: new HealthEvents({
        config: this.config,
        store: this.repos.store,
        logger: this.logger,
        registry: this.registry,
      }),
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
        // Before the ACME handler: it claims static-zone updates of keys with a scope and
        // leaves challenge updates of acme.update.keys to it.
        zoneUpdateExchange({
          config: this.config,
          zoneText: this.repos.zoneText,
          listAcmeTxt: (now) => this.repos.acme.listTxt(now),
          snapshot: () => this.snapshots.current,
          peers: () => this.master.currentPeers,
          flush: () => this.flush(),
          logger: this.logger.child({ component: 'update' }),
        }),
        updateExchange({
          config: this.config,
          repos: this.repos,
          txt: this.txt,
          logger: this.logger.child({ component: 'update' }),
        }),
      ],
      keyring: () => this.master.keyring,
      cookieSecrets: this.cookies.secrets,
      health: () => this.healthBounds,
      udp: this.config.dns.workers === 0,
      ...(this.config.health.enabled ? { healthBoard: this.health.board() } : {}),
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
    this.instances = new InstanceTracker({
      config: this.config,
      instances: this.repos.instances,
      logger: this.logger.child({ component: 'instances' }),
      registry: this.registry,
      id: healthInstanceId(this.config),
      snapshot: () => this.snapshots.current,
      source: () => this.snapshots.source,
    });
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
      this.stopping = false;
      await this.geo.start();
      const from = await this.readLastKnownGood();
      try {
        await this.repos.store.start();
      } catch (err) {
        // Without the store, the last-known-good serves; nothing else can start yet.
        if (!from) throw err;
        this.storeUp = false;
        this.logger.error(
          { err: errorMessage(err), retryMs: STORE_RETRY_MS },
          'store unreachable: serving the last-known-good snapshot, retrying the store',
        );
      }
      if (this.storeUp) await this.seed();
      if (this.storeUp && this.config.dnssec.enabled) await this.ensureDnssecKey();
      await this.snapshots.start({ from, storeUp: this.storeUp });
      const s = this.snapshots.current;
      this.logger.info(
        {
          zone: s.zone.name,
          serial: s.serial,
          domains: s.domains.size,
          nodes: s.nodes.length,
          source: this.snapshots.source,
        },
        'snapshot ready',
      );
      // Without the store there are no shared secrets: cookies are ignored until it returns.
      if (this.storeUp && this.config.dns.cookies.enabled) await this.cookies.start();
      // Probes start after the first snapshot: answers already serve the stored health
      // (warm start) while the first rounds settle.
      if (this.storeUp) await this.health.start();
      const workers = this.workers;
      // The admin API is built and made ready (its schemas compiled: 0.3–0.4 s of the
      // event loop) before DNS listens, so no query waits behind it; it listens after.
      this.api = await buildApi({
        config: this.config,
        repos: this.repos,
        snapshot: () => this.snapshots.current,
        flush: () => this.flush(),
        lastBuildError: () => this.snapshots.lastBuildError,
        registry: this.registry,
        udpPath: () => this.dns.udpPath,
        ...(workers
          ? { metricsText: () => workers.metrics(), dnsWorkers: () => workers.status() }
          : {}),
        logger: this.logger,
        geo: this.geo,
        health: () => this.health.status(),
        healthBounds: () => this.healthBounds,
        txt: this.txt,
        certificates: this.certificates,
        secondaries: () => this.master.status(),
        awaitSerial: (serial, timeoutMs) => this.master.awaitSerial(serial, timeoutMs),
        rotateCookies: () => this.cookies.rotate(),
        gate: this.snapshots,
        instances: () => this.instances.beat(),
        snapshotSource: () => ({
          source: this.snapshots.source,
          storeReachable: this.storeUp,
          ...(this.lkgProblem ? { lastKnownGoodProblem: this.lkgProblem } : {}),
        }),
      });
      await this.api.ready();
      // Workers bind UDP first: with port 0 their shared socket picks the port TCP takes.
      await this.dns.start(workers ? await workers.start() : undefined);
      if (this.storeUp) await this.startStoreUsers();
      else this.retryStore();
      const { host, port } = parseListen(this.config.api.listen);
      await this.api.listen({ host, port });
      const addr = this.api.server.address();
      this.apiAddress = { host, port: typeof addr === 'object' && addr ? addr.port : port };
      this.logger.info(this.apiAddress, 'admin api listening');
      if (this.config.externalDns.enabled) await this.startExternalDns();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startExternalDns(): Promise<void> {
    const repos = this.repos;
    const provider = new ExternalDnsProvider({
      config: this.config,
      zoneText: repos.zoneText,
      domains: repos.domains,
      loadState: () => snapshotSource(repos).loadState(this.config.zone.name),
      flush: () => this.flush(),
      checkWrite: (change) => this.snapshots.checkWrite(change),
      logger: this.logger.child({ component: 'externaldns' }),
      registry: this.registry,
    });
    this.externalDns = await buildExternalDnsApi({
      provider,
      logger: this.logger,
      maxBodyBytes: this.config.externalDns.maxBodyBytes,
      serial: () => this.snapshots.current.serial,
    });
    const { host, port } = parseListen(this.config.externalDns.listen);
    await this.externalDns.listen({ host, port });
    const addr = this.externalDns.server.address();
    this.externalDnsAddress = { host, port: typeof addr === 'object' && addr ? addr.port : port };
    this.logger.info(this.externalDnsAddress, 'externaldns webhook listening');
  }

  /** DNSSEC on: the zone's first key, created once for every instance of the store. */
  private async ensureDnssecKey(): Promise<void> {
    const zone = this.config.zone.name;
    const { created } = await ensureZoneKey(
      this.repos.dnssec,
      zone,
      algorithmNumber(this.config.dnssec.algorithm),
    );
    if (created)
      this.logger.info(
        { zone, key: created.id, algorithm: this.config.dnssec.algorithm },
        'DNSSEC: created the zone signing key; publish its DS at the parent (GET /v1/dnssec/ds)',
      );
  }

  private async seed(): Promise<void> {
    if (!this.config.seed.dir) return;
    const seeded = await seedStore(this.config, this.repos, this.config.seed.dir);
    if (seeded.seeded)
      this.logger.info({ dir: this.config.seed.dir, ...seeded }, 'empty store seeded');
  }

  /** What needs the store from its start, after DNS: certificates, the hidden master. */
  private async startStoreUsers(): Promise<void> {
    this.instances.start();
    await this.certificates?.start();
    // After DNS: a NOTIFY is answered by a transfer request at once.
    await this.master.start();
  }

  /** The last-known-good file, when there is one to trust; a corrupt one is set aside. */
  private async readLastKnownGood(): Promise<LastKnownGood | undefined> {
    if (!this.lkg) return undefined;
    try {
      const read = await readLastKnownGood(this.lkg.file, this.config.zone.name);
      if (read.found) return read.lkg;
      if (read.corrupt) {
        this.lkgProblem = `${read.corrupt.reason}; set aside as ${read.corrupt.setAside}`;
        this.logger.error(
          { file: this.lkg.file, ...read.corrupt },
          'last-known-good file is corrupt: set aside, not used',
        );
      }
    } catch (err) {
      this.lkgProblem = errorMessage(err);
      this.logger.error({ err, file: this.lkg.file }, 'last-known-good file unreadable');
    }
    return undefined;
  }

  /** Tries the store every STORE_RETRY_MS; once up, catches up and starts its users. */
  private retryStore(): void {
    this.storeRetry = setTimeout(() => {
      this.storeRetry = undefined;
      this.repos.store.start().then(
        async () => {
          // A stop during the attempt: the connection it opened is closed here.
          if (this.stopping) return void (await this.repos.store.stop());
          this.storeUp = true;
          this.logger.info('store reachable again: catching up');
          try {
            await this.seed();
            await this.snapshots.storeReturned();
            await this.health.start();
            if (this.config.dns.cookies.enabled) await this.cookies.start();
            await this.startStoreUsers();
          } catch (err) {
            this.logger.error({ err }, 'catching up with the store failed');
          }
        },
        () => {
          if (!this.stopping) this.retryStore();
        },
      );
    }, STORE_RETRY_MS);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.storeRetry);
    this.storeRetry = undefined;
    const steps: Array<() => Promise<unknown>> = [
      async () => this.externalDns?.close(),
      async () => this.api?.close(),
      async () => this.certificates?.stop(),
      async () => this.instances.stop(),
      () => this.master.stop(),
      () => this.dns.stop(),
      async () => this.workers?.stop(),
      () => this.health.stop(),
      () => this.snapshots.stop(),
      async () => this.cookies.stop(),
      async () => this.lkg?.stop(),
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
    this.externalDns = undefined;
  }
}
