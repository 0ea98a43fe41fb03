// TCP listener per RFC 7766: two-octet length framing, any number of pipelined queries
// per connection answered in order, an idle timeout, a connection cap in total and per
// client prefix (/24 IPv4, /56 IPv6: one network cannot take every slot), and backpressure
// (stop reading while the client is not reading our answers, or while it has
// `maxOutstanding` answers still being worked on). Replies of exchange
// handlers (transfers: many messages) are written in request order behind one another.
import { createServer, type Server, type Socket } from 'node:net';
import type { Handler, Reply } from '../pipeline/handler.js';
import type { Logger } from '../lib/logger.js';
import { clientAddressBytes } from '../lib/client-address.js';
import { parseProxyV2 } from '../wire/proxy-v2.js';

export interface TcpOptions {
  idleTimeoutMs: number;
  maxConnections: number;
  /** 0 = unlimited. */
  maxQueriesPerConnection: number;
  /** Connections one client prefix may hold at once; 0 = unlimited. */
  maxConnectionsPerPrefix: number;
  /** Answers owed on one connection before it is read further; 0 = unlimited. */
  maxOutstanding: number;
  /** Who may open a connection with a PROXY v2 header (see dns/proxy.ts); default nobody. */
  proxyAllowed?: (address: string) => boolean;
  /** Called for each connection closed for its PROXY header. */
  proxyRefused?: () => void;
}

const prefixScratch = Buffer.alloc(16);

/** The client's /24 (IPv4, IPv4-mapped) or /56 (IPv6), as a map key. */
export function clientPrefix(address: string): string {
  const n = clientAddressBytes(address, prefixScratch);
  return n === 0 ? address : prefixScratch.toString('hex', 0, n === 4 ? 3 : 7);
}

export class TcpListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Open connections per client prefix. */
  private readonly perPrefix = new Map<string, number>();

  constructor(
    private readonly host: string,
    private readonly handler: Handler,
    private readonly opts: TcpOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Counts the connection against `client`'s prefix, or closes it when the prefix holds
   * its share already; false when closed.
   */
  private holdSlot(socket: Socket, client: string): boolean {
    const prefix = clientPrefix(client);
    const held = this.perPrefix.get(prefix) ?? 0;
    const perPrefix = this.opts.maxConnectionsPerPrefix;
    if (perPrefix > 0 && held >= perPrefix) {
      socket.destroy();
      return false;
    }
    this.perPrefix.set(prefix, held + 1);
    socket.once('close', () => {
      const left = (this.perPrefix.get(prefix) ?? 1) - 1;
      if (left > 0) this.perPrefix.set(prefix, left);
      else this.perPrefix.delete(prefix);
    });
    return true;
  }

  private serve(socket: Socket): void {
    // A connection from an allowed proxy counts against the client it carries, known once
    // its PROXY header is read: a load balancer in front is not one client.
    const fromProxy = this.opts.proxyAllowed?.(socket.remoteAddress ?? '') ?? false;
    if (!fromProxy && !this.holdSlot(socket, socket.remoteAddress ?? '')) return;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    let address = socket.remoteAddress ?? '';
    let port = socket.remotePort ?? 0;
    // A PROXY v2 header can only open the stream: until its first bytes are seen.
    let opening = true;
    let pending: Buffer = Buffer.alloc(0);
    let served = 0;
    // Replies still owed, in request order; while one is pending, later ones queue behind it.
    let queue: Promise<void> | undefined;
    let queued = 0;
    const write = (message: Buffer): boolean => {
      const framed = Buffer.allocUnsafe(message.length + 2);
      framed.writeUInt16BE(message.length, 0);
      message.copy(framed, 2);
      return socket.write(framed);
    };
    const drained = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    const maxOutstanding = this.opts.maxOutstanding;
    const enqueue = (reply: Reply) => {
      if (++queued === maxOutstanding) socket.pause();
      const prev = queue ?? Promise.resolve();
      const next = prev.then(async () => {
        const messages = Buffer.isBuffer(reply) ? [reply] : reply ? await reply : [];
        for (const m of messages) {
          if (socket.destroyed) return;
          // A long transfer waits for the client instead of buffering the whole zone.
          if (!write(m)) await drained();
        }
      });
      queue = next
        .catch((err: unknown) => {
          this.logger.error({ err }, 'tcp exchange failed');
          socket.destroy();
        })
        .finally(() => {
          if (queued-- === maxOutstanding && !socket.destroyed) socket.resume();
          if (queued === 0) queue = undefined;
        });
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      if (opening) {
        const p = parseProxyV2(pending);
        if (p.kind === 'incomplete') return;
        opening = false;
        if (p.kind !== 'none') {
          if (p.kind === 'invalid' || !this.opts.proxyAllowed?.(address)) {
            this.opts.proxyRefused?.();
            socket.destroy();
            return;
          }
          if (p.source) ({ address, port } = p.source);
          pending = pending.subarray(p.length);
        }
        if (fromProxy && !this.holdSlot(socket, address)) return;
      }
      // Answers to the queries pipelined in one chunk leave together (one writev).
      socket.cork();
      try {
        while (pending.length >= 2) {
          const len = pending.readUInt16BE(0);
          if (len === 0) {
            socket.destroy();
            return;
          }
          if (pending.length < 2 + len) break;
          const msg = pending.subarray(2, 2 + len);
          pending = pending.subarray(2 + len);
          let reply: Reply;
          try {
            reply = this.handler(msg, 'tcp', address, port);
          } catch (err) {
            this.logger.error({ err }, 'tcp handler threw');
          }
          if (reply !== undefined && (queue || !Buffer.isBuffer(reply))) enqueue(reply);
          else if (reply && !write(reply)) {
            socket.pause();
            socket.once('drain', () => socket.resume());
          }
          served++;
          if (
            this.opts.maxQueriesPerConnection > 0 &&
            served >= this.opts.maxQueriesPerConnection
          ) {
            socket.end();
            return;
          }
        }
      } finally {
        socket.uncork();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  async start(port: number): Promise<number> {
    const server = createServer({ pauseOnConnect: false }, (s) => this.serve(s));
    server.maxConnections = this.opts.maxConnections;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.host, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err }, 'tcp server error'));
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
