// The DNS server: UDP and TCP listeners on every configured address, sharing one
// handler. Port 0 picks a free port that is free for both protocols. With DNS workers
// (dns/workers.ts) the main process opens only TCP and each worker only UDP.
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import { parseListen } from '../config/load.js';
import type { Logger } from '../lib/logger.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { drive } from '../lib/cooperative.js';
import { createHandler, type Forward, type QueryHandler } from './handler.js';
import { txtRdata } from '../zone/rdata.js';
import type { DnsMetrics } from './metrics.js';
import type { GeoLookup } from '../geo/geo-record.js';
import type { Decision } from '../gslb/decide.js';
import { CidrSet } from '../lib/cidr.js';
import { TcpListener } from './tcp.js';
import { UdpListener } from './udp.js';
import type { ExchangeHandler } from './exchange.js';
import type { TsigKeyring } from '../xfr/tsig.js';

/** What the GSLB stages need from the rest of the server. */
export interface GslbDeps {
  readonly geo: GeoLookup;
  readonly onDecision: (decision: Decision) => void;
}

export interface BoundAddress {
  host: string;
  port: number;
}

export interface DnsServerOptions {
  /** Which listeners this process opens (default both). */
  readonly udp?: boolean;
  readonly tcp?: boolean;
  /** UDP sockets bound with SO_REUSEPORT (a DNS worker's own socket, see workers.ts). */
  readonly reusePort?: boolean;
  /** In a DNS worker: where requests needing the main process go (see handler.ts). */
  readonly forward?: Forward;
}

function debugAccess(config: Config): ((address: string) => boolean) | null {
  if (!config.debug.enabled) return null;
  const allow = new CidrSet(config.debug.allow);
  return (address) => allow.has(address);
}

export class DnsServer {
  private readonly listeners: Array<UdpListener | TcpListener> = [];
  readonly addresses: BoundAddress[] = [];
  /** Answers one request as the listeners do; also what DNS workers forward to. */
  readonly handle: QueryHandler;

  constructor(
    private readonly config: Config,
    snapshot: () => Snapshot,
    metrics: DnsMetrics,
    private readonly logger: Logger,
    gslb: GslbDeps,
    /** Transfers, UPDATE and signed requests (see exchange.ts), in the order tried. */
    exchanges: readonly ExchangeHandler[] = [],
    /** TSIG keys: signed ordinary queries are verified and answered signed. */
    keyring?: () => TsigKeyring,
    private readonly options: DnsServerOptions = {},
  ) {
    const dns = config.dns;
    this.handle = createHandler({
      snapshot,
      settings: {
        version: dns.chaos.version === null ? null : txtRdata(dns.chaos.version),
        identity: txtRdata(dns.chaos.identity ?? hostname()),
        geo: gslb.geo,
        debug: debugAccess(config),
        onDecision: gslb.onDecision,
      },
      udpSize: dns.udpSize,
      nsid: dns.nsid ? Buffer.from(dns.nsid, 'utf8') : undefined,
      metrics,
      logger,
      exchanges,
      ...(keyring ? { keyring } : {}),
      ...(options.forward ? { forward: options.forward } : {}),
    });
  }

  /**
   * Opens the listeners. `ports`, one per `dns.listen` entry, replaces the configured
   * ports: the main process takes the ones its DNS workers' shared UDP sockets got.
   */
  async start(ports?: readonly number[]): Promise<void> {
    const dns = this.config.dns;
    const handler = this.handle;
    const udpOn = this.options.udp ?? true;
    const tcpOn = this.options.tcp ?? true;
    const tcpOpts = {
      idleTimeoutMs: dns.tcpIdleTimeoutMs,
      maxConnections: dns.tcpMaxConnections,
      maxQueriesPerConnection: dns.tcpMaxQueriesPerConnection,
    };
    for (const [i, text] of dns.listen.entries()) {
      const listen = parseListen(text);
      const { host } = listen;
      const port = ports?.[i] ?? listen.port;
      for (let attempt = 0; ; attempt++) {
        const udp = udpOn
          ? new UdpListener(host, handler, this.logger, this.options.reusePort)
          : undefined;
        const tcp = tcpOn ? new TcpListener(host, handler, tcpOpts, this.logger) : undefined;
        const bound = udp ? await udp.start(port) : port;
        try {
          await tcp?.start(bound);
        } catch (err) {
          await udp?.stop();
          if (port === 0 && attempt < 20 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE')
            continue;
          throw err;
        }
        if (udp) this.listeners.push(udp);
        if (tcp) this.listeners.push(tcp);
        const bothOrOne = udp && tcp ? 'udp+tcp' : udp ? 'udp' : 'tcp';
        this.addresses.push({ host, port: bound });
        this.logger.info({ host, port: bound }, `dns listening (${bothOrOne})`);
        break;
      }
    }
  }

  /** Fills `next`'s answer cache before it is published (see QueryHandler.prewarm). */
  prewarm(next: Snapshot, previous: Snapshot | undefined): Promise<number> {
    return drive(this.handle.prewarm(next, previous));
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.splice(0).map((l) => l.stop()));
    this.addresses.length = 0;
  }
}
