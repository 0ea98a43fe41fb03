// UDP listener: one datagram, one handler call, at most one reply (sent at once from the
// hot path, or when an exchange handler settles).
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Handler, Reply } from '../pipeline/handler.js';
import type { Logger } from '../lib/logger.js';

export class UdpListener {
  private socket: Socket | undefined;

  constructor(
    private readonly host: string,
    private readonly handler: Handler,
    private readonly logger: Logger,
  ) {}

  async start(port: number): Promise<number> {
    const socket = createSocket({
      type: isIPv6(this.host) ? 'udp6' : 'udp4',
      recvBufferSize: 4 << 20,
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
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
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
