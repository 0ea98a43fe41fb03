// The DNS server: UDP and TCP listeners on every configured address, sharing one
// handler. Port 0 picks a free port that is free for both protocols.
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import { parseListen } from '../config/load.js';
import type { Logger } from '../lib/logger.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { createHandler } from './handler.js';
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

function debugAccess(config: Config): ((address: string) => boolean) | null {
  if (!config.debug.enabled) return null;
  const allow = new CidrSet(config.debug.allow);
  return (address) => allow.has(address);
}

export class DnsServer {
  private readonly listeners: Array<UdpListener | TcpListener> = [];
  readonly addresses: BoundAddress[] = [];

  constructor(
    private readonly config: Config,
    private readonly snapshot: () => Snapshot,
    private readonly metrics: DnsMetrics,
    private readonly logger: Logger,
    private readonly gslb: GslbDeps,
    /** Transfers, UPDATE and signed requests (see exchange.ts), in the order tried. */
    private readonly exchanges: readonly ExchangeHandler[] = [],
    /** TSIG keys: signed ordinary queries are verified and answered signed. */
    private readonly keyring?: () => TsigKeyring,
  ) {}

  async start(): Promise<void> {
    const dns = this.config.dns;
    const handler = createHandler({
      snapshot: this.snapshot,
      settings: {
        version: dns.chaos.version === null ? null : txtRdata(dns.chaos.version),
        identity: txtRdata(dns.chaos.identity ?? hostname()),
        geo: this.gslb.geo,
        debug: debugAccess(this.config),
        onDecision: this.gslb.onDecision,
      },
      udpSize: dns.udpSize,
      nsid: dns.nsid ? Buffer.from(dns.nsid, 'utf8') : undefined,
      metrics: this.metrics,
      logger: this.logger,
      exchanges: this.exchanges,
      ...(this.keyring ? { keyring: this.keyring } : {}),
    });
    const tcpOpts = {
      idleTimeoutMs: dns.tcpIdleTimeoutMs,
      maxConnections: dns.tcpMaxConnections,
      maxQueriesPerConnection: dns.tcpMaxQueriesPerConnection,
    };
    for (const text of dns.listen) {
      const { host, port } = parseListen(text);
      for (let attempt = 0; ; attempt++) {
        const udp = new UdpListener(host, handler, this.logger);
        const tcp = new TcpListener(host, handler, tcpOpts, this.logger);
        const bound = await udp.start(port);
        try {
          await tcp.start(bound);
        } catch (err) {
          await udp.stop();
          if (port === 0 && attempt < 20 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE')
            continue;
          throw err;
        }
        this.listeners.push(udp, tcp);
        this.addresses.push({ host, port: bound });
        this.logger.info({ host, port: bound }, 'dns listening (udp+tcp)');
        break;
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.splice(0).map((l) => l.stop()));
    this.addresses.length = 0;
  }
}
