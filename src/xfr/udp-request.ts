// One UDP request and its reply: a socket per exchange (NOTIFY and SOA polls are rare),
// the reply matched on source address, port and ID (RFC 5452 §4), a bounded wait.
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export function udpRequest(
  address: string,
  port: number,
  message: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    const done = (err: Error | undefined, reply?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply as Buffer);
    };
    const timer = setTimeout(
      () => done(new Error(`no answer from ${address}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (err) => done(err));
    socket.on('message', (reply, rinfo) => {
      if (rinfo.port !== port || reply.length < 12 || reply.readUInt16BE(0) !== id) return;
      if ((reply[2] as number) < 0x80) return; // not a response
      done(undefined, reply);
    });
    socket.send(message, port, address, (err) => {
      if (err) done(err);
    });
  });
}
