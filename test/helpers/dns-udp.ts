// A minimal stub resolver over one UDP socket for tests that ask many names at once
// (hundreds of domains), where spawning `dig` per name would be slow. It is written from
// RFC 1035 §4 independently of src/dns, so it cannot share a bug with the server's codec.
import { createSocket, type Socket } from 'node:dgram';

export interface UdpAnswer {
  rcode: number;
  /** Answer-section records as `type ttl data` with A/AAAA data as text. */
  answers: Array<{ name: string; type: number; ttl: number; data: string }>;
}

function encodeQuestion(id: number, name: string, qtype: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

/** Reads a possibly compressed name at `off`; returns it and the offset after it. */
function readName(msg: Buffer, off: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[off] as number;
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | (msg[off + 1] as number);
      continue;
    }
    if (len === 0) return [labels.join('.').toLowerCase(), end < 0 ? off + 1 : end];
    labels.push(msg.toString('ascii', off + 1, off + 1 + len));
    off += 1 + len;
  }
  throw new Error('name compression loop');
}

function rdataText(type: number, rdata: Buffer): string {
  if (type === 1) return [...rdata].join('.');
  if (type === 28) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(rdata.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  return rdata.toString('hex');
}

export function parseResponse(msg: Buffer): UdpAnswer & { id: number } {
  const id = msg.readUInt16BE(0);
  const rcode = (msg[3] as number) & 0x0f;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(msg, off)[1] + 4;
  const answers: UdpAnswer['answers'] = [];
  for (let i = 0; i < an; i++) {
    const [name, next] = readName(msg, off);
    const type = msg.readUInt16BE(next);
    const ttl = msg.readUInt32BE(next + 4);
    const len = msg.readUInt16BE(next + 8);
    answers.push({
      name,
      type,
      ttl,
      data: rdataText(type, msg.subarray(next + 10, next + 10 + len)),
    });
    off = next + 10 + len;
  }
  return { id, rcode, answers };
}

/** One socket, many concurrent queries matched by id; close() when done. */
export class UdpResolver {
  private readonly socket: Socket = createSocket('udp4');
  private readonly pending = new Map<number, (a: UdpAnswer) => void>();
  private nextId = 1;

  constructor(private readonly port: number) {
    this.socket.on('message', (msg) => {
      const res = parseResponse(msg);
      const done = this.pending.get(res.id);
      if (done) {
        this.pending.delete(res.id);
        done(res);
      }
    });
  }

  query(name: string, qtype = 1, timeoutMs = 2000): Promise<UdpAnswer> {
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffff) + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer for ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      this.socket.send(encodeQuestion(id, name, qtype), this.port, '127.0.0.1');
    });
  }

  /** The A addresses for each name, asked `concurrency` at a time. */
  async addresses(names: readonly string[], concurrency = 50): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++] as string;
        const res = await this.query(name);
        if (res.rcode !== 0) throw new Error(`${name}: rcode ${res.rcode}`);
        out.set(
          name,
          res.answers.filter((a) => a.type === 1).map((a) => a.data),
        );
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return out;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
