// The DNS server: UDP and TCP listeners on every configured address, sharing one
// handler. Port 0 picks a free port that is free for both protocols. With DNS workers
// (dns/workers.ts) the main process opens only TCP and each worker only UDP. UDP takes the
// batched addon (udp-batch.ts) or node:dgram (udp.ts), per dns.udpBatch; both hand the
// handler the same inputs, so everything after the socket behaves the same on either.
import type { HealthBoard } from '../pipeline/context.js';
import { hostname } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { parseListen } from '../config/load.js';
import type { Logger } from '../lib/logger.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { drive } from '../lib/cooperative.js';
import { createHandler, type RrlSettings } from '../pipeline/order.js';
import { ResponseRateLimiter } from '../lib/rrl.js';
import { LoadShedder } from '../lib/load-shed.js';
import type { Forward, QueryHandler } from '../pipeline/handler.js';
import { txtRdata } from '../wire/rdata.js';
import { dnsMetrics, dnssecMetrics } from '../pipeline/metrics.js';
import type { GeoLookup } from '../geo/geo-record.js';
import { gslbMetrics } from '../gslb/metrics.js';
import { CidrSet } from '../lib/cidr.js';
import { acceptProxyUdp, proxyAllowed, proxyRefusedCounter } from './proxy.js';
import { TcpListener } from './tcp.js';
import { UdpListener } from './udp.js';
import {
  BatchUdpListener,
  DEFAULT_BATCH,
  STAT,
  resolveUdpPath,
  type UdpPath,
} from './udp-batch.js';
import type { ExchangeHandler } from '../pipeline/exchange.js';
import type { TsigKeyring } from '../wire/tsig.js';
import type { CookieSecrets } from '../wire/cookie.js';
import type { HealthBounds } from '../gslb/health-bound.js';

export interface BoundAddress {
  host: string;
  port: number;
}

export interface DnsServerDeps {
  readonly config: Config;
  /** The snapshot every query is answered from; read once per query. */
  readonly snapshot: () => Snapshot;
  readonly logger: Logger;
  /** Query and GSLB decision metrics are registered here, once per server. */
  readonly registry: Registry;
  readonly geo: GeoLookup;
  /** Transfers, UPDATE and signed requests (see pipeline/exchange.ts), in the order tried. */
  readonly exchanges?: readonly ExchangeHandler[];
  /** TSIG keys: signed ordinary queries are verified and answered signed. */
  readonly keyring?: () => TsigKeyring;
  /** Which listeners this process opens (default both). */
  readonly udp?: boolean;
  readonly tcp?: boolean;
  /** UDP sockets bound with SO_REUSEPORT (a DNS worker's own socket, see workers.ts). */
  readonly reusePort?: boolean;
  /**
   * Whether this process binds its own UDP sockets (default true); false in a DNS worker on
   * the cluster's shared socket, which only node:dgram can receive from.
   */
  readonly ownUdpSockets?: boolean;
  /** In a DNS worker: where requests needing the main process go (see pipeline/handler.ts). */
  readonly forward?: Forward;
  /** The shared DNS cookie secrets (protect/cookie-secrets.ts); absent, cookies are ignored. */
  readonly cookieSecrets?: () => CookieSecrets | undefined;
  /**
   * How many processes answer UDP side by side (dns.workers; default 1). Each keeps its
   * own rate-limit table, so each limits to its share of `dns.rrl.rate`: the kernel spreads
   * a client's queries over the processes by source port, so the shares add up to the
   * configured rate for any client whose ports vary (every resolver's, every spoofer's).
   */
  readonly udpProcesses?: number;
  /** The health checker's node bounds, which cut answers' TTLs; absent: plain TTLs. */
  readonly health?: () => HealthBounds | undefined;
  /** The health checker's in-memory board, for `_health`; absent in a DNS worker. */
  readonly healthBoard?: HealthBoard | undefined;
}

function debugAccess(config: Config): ((address: string) => boolean) | null {
  if (!config.debug.enabled) return null;
  const allow = new CidrSet(config.debug.allow);
  return (address) => allow.has(address);
}

/** The rate one of `processes` UDP-answering processes limits to: its share, at least 1. */
export function rrlShare(rate: number, processes: number): number {
  return Math.max(1, Math.ceil(rate / Math.max(1, processes)));
}

function rrlSettings(rrl: Config['dns']['rrl'], processes: number): RrlSettings {
  const allow = rrl.allow.length > 0 ? new CidrSet(rrl.allow) : undefined;
  return {
    limiter: new ResponseRateLimiter({ ...rrl, rate: rrlShare(rrl.rate, processes) }),
    allowed: allow && ((address) => allow.has(address)),
  };
}

export class DnsServer {
  private readonly listeners: Array<UdpListener | BatchUdpListener | TcpListener> = [];
  /** Which code answers UDP here, once started with UDP on. */
  private udp: { path: UdpPath; reason: string } | undefined;
  readonly addresses: BoundAddress[] = [];
  /** Answers one request as the listeners do; also what DNS workers forward to. */
  readonly handle: QueryHandler;
  /** Present when dns.shed bounds lag or backlog and this process answers UDP. */
  private readonly shedder: LoadShedder | undefined;
  private readonly proxyRefused: Counter<'transport'>;

  constructor(private readonly deps: DnsServerDeps) {
    const { config, keyring, forward } = deps;
    const dns = config.dns;
    this.shedder =
      (dns.shed.maxLagMs > 0 || dns.shed.maxBacklogMs > 0) && (deps.udp ?? true)
        ? new LoadShedder(dns.shed)
        : undefined;
    this.proxyRefused = proxyRefusedCounter(deps.registry);
    if (deps.udp ?? true) this.udpMetrics(deps.registry);
    dnssecMetrics(deps.registry, deps.snapshot);
    this.handle = createHandler({
      snapshot: deps.snapshot,
      settings: {
        version: dns.chaos.version === null ? null : txtRdata(dns.chaos.version),
        identity: txtRdata(dns.chaos.identity ?? hostname()),
        geo: deps.geo,
        debug: debugAccess(config),
        healthBoard: deps.healthBoard,
        onDecision: gslbMetrics(deps.registry),
        health: deps.health,
      },
      udpSize: dns.udpSize,
      nsid: dns.nsid ? Buffer.from(dns.nsid, 'utf8') : undefined,
      metrics: dnsMetrics(deps.registry),
      logger: deps.logger,
      exchanges: deps.exchanges ?? [],
      ...(keyring ? { keyring } : {}),
      ...(forward ? { forward } : {}),
      ...(dns.rrl.rate > 0 ? { rrl: rrlSettings(dns.rrl, deps.udpProcesses ?? 1) } : {}),
      ...(this.shedder ? { shedder: this.shedder } : {}),
      ...(deps.cookieSecrets && dns.cookies.enabled
        ? { cookies: { secrets: deps.cookieSecrets, demand: dns.cookies.demand } }
        : {}),
    });
  }

  /**
   * Opens the listeners. `ports`, one per `dns.listen` entry, replaces the configured
   * ports: the main process takes the ones its DNS workers' shared UDP sockets got.
   */
  async start(ports?: readonly number[]): Promise<void> {
    const { config, logger } = this.deps;
    const dns = config.dns;
    const allowed = proxyAllowed(dns.proxyProtocol.allow);
    const udpHandler = acceptProxyUdp(this.handle, allowed, () =>
      this.proxyRefused.inc({ transport: 'udp' }),
    );
    const handler = this.handle;
    const udpOn = this.deps.udp ?? true;
    const udpPath = udpOn
      ? resolveUdpPath(dns.udpBatch, this.deps.ownUdpSockets ?? true)
      : undefined;
    this.udp = udpPath;
    if (udpPath)
      logger.info(
        { udpPath: udpPath.path, reason: udpPath.reason },
        udpPath.path === 'batched'
          ? 'udp answered in batches (recvmmsg/sendmmsg)'
          : 'udp answered with node:dgram',
      );
    // A backlogged socket fills every read: libuv's 32 datagrams a turn, or one recvmmsg.
    if (udpPath?.path === 'batched') this.shedder?.setFullTurn(DEFAULT_BATCH);
    this.shedder?.start();
    const tcpOn = this.deps.tcp ?? true;
    const tcpOpts = {
      idleTimeoutMs: dns.tcpIdleTimeoutMs,
      maxConnections: dns.tcpMaxConnections,
      maxQueriesPerConnection: dns.tcpMaxQueriesPerConnection,
      maxConnectionsPerPrefix: dns.tcpMaxConnectionsPerPrefix,
      maxOutstanding: dns.tcpMaxOutstanding,
      proxyAllowed: allowed,
      proxyRefused: () => this.proxyRefused.inc({ transport: 'tcp' }),
    };
    for (const [i, text] of dns.listen.entries()) {
      const listen = parseListen(text);
      const { host } = listen;
      const port = ports?.[i] ?? listen.port;
      for (let attempt = 0; ; attempt++) {
        const udp = !udpPath
          ? undefined
          : udpPath.path === 'batched'
            ? new BatchUdpListener(host, udpHandler, logger, this.deps.reusePort)
            : new UdpListener(host, udpHandler, logger, this.deps.reusePort);
        const tcp = tcpOn ? new TcpListener(host, handler, tcpOpts, logger) : undefined;
        const pair = [udp, tcp].filter((l) => l !== undefined);
        // Held before they open, so stop() closes them after a start that failed half-way.
        this.listeners.push(...pair);
        const bound = udp ? await udp.start(port) : port;
        try {
          await tcp?.start(bound);
        } catch (err) {
          this.listeners.splice(this.listeners.length - pair.length);
          await Promise.all(pair.map((l) => l.stop()));
          if (port === 0 && attempt < 20 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE')
            continue;
          throw err;
        }
        const bothOrOne = udp && tcp ? 'udp+tcp' : udp ? 'udp' : 'tcp';
        this.addresses.push({ host, port: bound });
        logger.info({ host, port: bound }, `dns listening (${bothOrOne})`);
        break;
      }
    }
  }

  /** `batched` or `dgram` once UDP listens here; undefined without UDP. */
  get udpPath(): UdpPath | undefined {
    return this.udp?.path;
  }

  private udpMetrics(registry: Registry): void {
    const path = () => this.udpPath;
    const listeners = this.listeners;
    new Gauge({
      name: 'cirrus_dns_udp_path',
      help: 'Processes answering UDP by path: batched (recvmmsg/sendmmsg addon) or dgram',
      labelNames: ['path'] as const,
      registers: [registry],
      collect() {
        const now = path();
        this.set({ path: 'batched' }, now === 'batched' ? 1 : 0);
        this.set({ path: 'dgram' }, now === 'dgram' ? 1 : 0);
      },
    });
    // This server's open batched sockets' own counters (each counts from when it opened).
    const sum = (i: number) => {
      let total = 0;
      for (const l of listeners) if (l instanceof BatchUdpListener) total += l.stats()?.[i] ?? 0;
      return total;
    };
    new Counter({
      name: 'cirrus_dns_udp_batches_total',
      help: 'recvmmsg batches handed to the handler (batched path); datagrams over batches is the batch size',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sum(STAT.batches));
      },
    });
    new Counter({
      name: 'cirrus_dns_udp_batch_datagrams_total',
      help: 'Datagrams received by the batched path',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sum(STAT.datagrams));
      },
    });
    new Counter({
      name: 'cirrus_dns_udp_batch_dropped_total',
      help: 'Datagrams the batched path dropped: oversized (longer than its receive slot), send_error, queue_full (replies waiting for a writable socket)',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ reason: 'oversized' }, sum(STAT.oversized));
        this.inc({ reason: 'send_error' }, sum(STAT.sendErrors));
        this.inc({ reason: 'queue_full' }, sum(STAT.queueDropped));
      },
    });
  }

  /** Fills `next`'s answer cache before it is published (see QueryHandler.prewarm). */
  prewarm(next: Snapshot, previous: Snapshot | undefined): Promise<number> {
    return drive(this.handle.prewarm(next, previous));
  }

  async stop(): Promise<void> {
    this.shedder?.stop();
    await Promise.all(this.listeners.splice(0).map((l) => l.stop()));
    this.addresses.length = 0;
  }
}
