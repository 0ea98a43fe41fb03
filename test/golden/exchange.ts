// Sends one golden case over a real socket and collects every message the server sends back
// for it, including none. Each case is followed by a sentinel query on the same socket or
// connection: the server answers in arrival order, so whatever arrives before the
// sentinel's answer belongs to the case, and "no response" needs no timeout.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { message, SENTINEL_ID } from './queries.js';

/** Asks a name outside the zone (REFUSED): cheap, and never a case of its own. */
const SENTINEL = message(SENTINEL_ID, {
  flags: 0x0100,
  questions: [{ name: 'sentinel.golden.invalid', type: 1 }],
});
const TIMEOUT_MS = 5000;

function isSentinel(msg: Buffer): boolean {
  return (
    msg.length >= 12 && msg.readUInt16BE(0) === SENTINEL_ID && ((msg[2] as number) & 0x80) !== 0
  );
}

export class GoldenUdp {
  private readonly socket: Socket = createSocket('udp4');
  private inbox: Buffer[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly port: number) {
    this.socket.on('message', (msg) => {
      this.inbox.push(msg);
      this.wake?.();
    });
  }

  async open(): Promise<number> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  async exchange(query: Buffer): Promise<Buffer[]> {
    this.inbox = [];
    this.socket.send(query, this.port, '127.0.0.1');
    this.socket.send(SENTINEL, this.port, '127.0.0.1');
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const at = this.inbox.findIndex(isSentinel);
      if (at >= 0) return this.inbox.slice(0, at);
      if (Date.now() > deadline) throw new Error('no answer to the sentinel query over UDP');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * One connection per case (RFC 7766 framing). Responses up to the sentinel's, or up to the
 * server closing the connection, belong to the case. `localPort` is reported for whoami.
 */
export function tcpExchange(
  port: number,
  query: Buffer,
): Promise<{ responses: Buffer[]; localPort: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const responses: Buffer[] = [];
    let buf = Buffer.alloc(0);
    let localPort = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer to the sentinel query over TCP'));
    }, TIMEOUT_MS);
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses, localPort });
    };
    sock.on('connect', () => {
      localPort = sock.localPort ?? 0;
      const frame = (m: Buffer): Buffer =>
        Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
      sock.write(Buffer.concat([frame(query), frame(SENTINEL)]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        if (isSentinel(msg)) return done();
        responses.push(Buffer.from(msg));
      }
    });
    // The server may close after a message it cannot frame or parse.
    sock.on('close', done);
    sock.on('error', () => undefined);
  });
}
