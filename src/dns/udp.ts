// UDP listener: one datagram, one handler call, at most one reply (sent at once from the
// hot path, or when an exchange handler settles). With `reusePort` the socket is bound with
// SO_REUSEPORT, by this process itself even in a cluster worker, and the kernel spreads
// datagrams over every socket bound so on the address (by the 4-tuple's hash).
import { createSocket, type Socket } from 'node:dgram';
import { createServer, isIPv6, type AddressInfo } from 'node:net';
import type { Handler, Reply } from '../pipeline/handler.js';
import type { Logger } from '../lib/logger.js';

function family(host: string): 'udp4' | 'udp6' {
  return isIPv6(host) ? 'udp6' : 'udp4';
}

function bind(socket: Socket, port: number, address: string, exclusive: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address, exclusive }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/**
 * Whether two sockets of this process can bind one UDP port on `host` with `reusePort`:
 * Node 22.12+ or 23.1+ on a kernel with SO_REUSEPORT. Older Node ignores the option, so
 * the second bind fails with EADDRINUSE; a platform without it fails the first bind.
 */
export async function reusePortWorks(host: string): Promise<boolean> {
  const sockets = [0, 1].map(() => createSocket({ type: family(host), reusePort: true }));
  try {
    const [a, b] = sockets as [Socket, Socket];
    await bind(a, 0, host, true);
    await bind(b, a.address().port, host, true);
    return true;
  } catch {
    return false;
  } finally {
    for (const s of sockets) {
      try {
        s.close();
      } catch {
        // Already closed by its failed bind.
      }
    }
  }
}

/**
 * A port on `host` that is free for UDP and TCP alike at the call. A UDP port the kernel
 * picks may be held on the TCP side (a listener, or another connection's local port),
 * where the DNS server's TCP listener would then fail; so the TCP listener picks and a UDP
 * bind confirms. For DNS workers asked for port 0, which bind UDP in other processes before
 * the main process listens on TCP.
 */
export async function freeUdpTcpPort(host: string, attempts = 20): Promise<number> {
  for (let i = 0; ; i++) {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
    const socket = createSocket({ type: family(host) });
    try {
      await bind(socket, port, host, true);
      return port;
    } catch (err) {
      if (i + 1 >= attempts) throw err;
    } finally {
      try {
        socket.close();
      } catch {
        // Already closed by its failed bind.
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

export class UdpListener {
  private socket: Socket | undefined;

  constructor(
    private readonly host: string,
    private readonly handler: Handler,
    private readonly logger: Logger,
    private readonly reusePort = false,
  ) {}

  async start(port: number): Promise<number> {
    const socket = createSocket({
      type: family(this.host),
      recvBufferSize: 4 << 20,
      ...(this.reusePort ? { reusePort: true } : {}),
    });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      let reply: Reply;
      try {
        reply = this.handler(msg, 'udp', rinfo.address, rinfo.port);
      } catch (err) {
        // The handler does not throw by contract; guard the socket anyway.
        this.logger.error({ err }, 'udp handler threw');
        return;
      }
      if (reply === undefined) return;
      if (Buffer.isBuffer(reply)) {
        socket.send(reply, rinfo.port, rinfo.address);
        return;
      }
      reply.then(
        (messages) => {
          // A datagram carries one message; exchanges size their UDP answers to fit.
          const first = messages[0];
          if (first && this.socket === socket) socket.send(first, rinfo.port, rinfo.address);
        },
        (err: unknown) => this.logger.error({ err }, 'udp exchange failed'),
      );
    });
    socket.on('error', (err) => this.logger.error({ err }, 'udp socket error'));
    // Exclusive with reusePort: a cluster worker binds its own socket, never the primary's
    // shared handle (which a runtime ignoring reusePort would otherwise hand out silently).
    await bind(socket, port, this.host, this.reusePort);
    return socket.address().port;
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
