// Raw DNS messages for the DNS integration tests that need what dig cannot send or show:
// exact question bytes, malformed packets, pipelined TCP frames, and a reply parser that
// checks every octet is accounted for. Independent of src/dns, so a codec bug cannot hide.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';

export interface EdnsOption {
  code: number;
  data: Buffer;
}

export interface QueryOptions {
  id?: number;
  /** Header flags word without opcode (default: RD set). */
  flags?: number;
  opcode?: number;
  qtype?: number;
  qclass?: number;
  /** false (default) sends no OPT record. */
  edns?: false | { udpSize?: number; version?: number; options?: EdnsOption[] };
}

/** Wire form of a name, keeping the case of every octet (0x20 tests). */
export function wireName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.replace(/\.$/, '').split('.').filter(Boolean)) {
    const bytes = Buffer.from(label, 'latin1');
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function optRecord(edns: {
  udpSize?: number;
  version?: number;
  options?: EdnsOption[];
}): Buffer {
  const options = Buffer.concat(
    (edns.options ?? []).map((o) => {
      const head = Buffer.alloc(4);
      head.writeUInt16BE(o.code, 0);
      head.writeUInt16BE(o.data.length, 2);
      return Buffer.concat([head, o.data]);
    }),
  );
  const rr = Buffer.alloc(11);
  rr[0] = 0; // root owner
  rr.writeUInt16BE(41, 1);
  rr.writeUInt16BE(edns.udpSize ?? 1232, 3);
  rr.writeUInt32BE(((edns.version ?? 0) & 0xff) << 16, 5);
  rr.writeUInt16BE(options.length, 9);
  return Buffer.concat([rr, options]);
}

/** RFC 7871 option; `address` is written as given, so wrong lengths can be sent. */
export function ecsOption(
  family: number,
  source: number,
  scope: number,
  address: Buffer,
): EdnsOption {
  const data = Buffer.alloc(4);
  data.writeUInt16BE(family, 0);
  data[2] = source;
  data[3] = scope;
  return { code: 8, data: Buffer.concat([data, address]) };
}

export function buildQuery(name: string, opts: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0x1234, 0);
  header.writeUInt16BE(((opts.flags ?? 0x0100) & ~0x7800) | ((opts.opcode ?? 0) << 11), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(opts.edns ? 1 : 0, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(opts.qtype ?? 1, 0);
  q.writeUInt16BE(opts.qclass ?? 1, 2);
  return Buffer.concat([
    header,
    wireName(name),
    q,
    opts.edns ? optRecord(opts.edns) : Buffer.alloc(0),
  ]);
}

export interface ParsedRR {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
  /** Offset of the rdata in the message, for names inside it. */
  rdataOffset: number;
}

export interface ParsedReply {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** Header RCODE (low 4 bits only). */
  rcode: number;
  qdcount: number;
  /** The raw question section (first question), as sent back. */
  question: Buffer;
  answer: ParsedRR[];
  authority: ParsedRR[];
  additional: ParsedRR[];
  opt: { udpSize: number; extRcode: number; version: number; options: EdnsOption[] } | undefined;
}

/** Reads a possibly compressed name (lower-cased, no trailing dot) and where it ends. */
export function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[pos];
    if (len === undefined) throw new Error('name runs past the end');
    if (len === 0) {
      return { name: labels.join('.').toLowerCase(), end: end < 0 ? pos + 1 : end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = msg.readUInt16BE(pos) & 0x3fff;
      continue;
    }
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('compression loop');
}

export function parseReply(msg: Buffer): ParsedReply {
  const flags = msg.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o)) as [number, number, number, number];
  let pos = 12;
  let question: Buffer = Buffer.alloc(0);
  for (let i = 0; i < counts[0]; i++) {
    const start = pos;
    pos = readName(msg, pos).end + 4;
    if (i === 0) question = msg.subarray(start, pos);
  }
  const section = (n: number): ParsedRR[] => {
    const out: ParsedRR[] = [];
    for (let i = 0; i < n; i++) {
      const { name, end } = readName(msg, pos);
      const rdlength = msg.readUInt16BE(end + 8);
      out.push({
        name,
        type: msg.readUInt16BE(end),
        class: msg.readUInt16BE(end + 2),
        ttl: msg.readUInt32BE(end + 4),
        rdata: msg.subarray(end + 10, end + 10 + rdlength),
        rdataOffset: end + 10,
      });
      pos = end + 10 + rdlength;
    }
    return out;
  };
  const answer = section(counts[1]);
  const authority = section(counts[2]);
  const additional = section(counts[3]);
  if (pos !== msg.length) throw new Error(`${msg.length - pos} octets after the last record`);
  const optRR = additional.find((r) => r.type === 41);
  let opt: ParsedReply['opt'];
  if (optRR) {
    const options: EdnsOption[] = [];
    for (let p = 0; p < optRR.rdata.length;) {
      const len = optRR.rdata.readUInt16BE(p + 2);
      options.push({
        code: optRR.rdata.readUInt16BE(p),
        data: optRR.rdata.subarray(p + 4, p + 4 + len),
      });
      p += 4 + len;
    }
    opt = {
      udpSize: optRR.class,
      extRcode: optRR.ttl >>> 24,
      version: (optRR.ttl >>> 16) & 0xff,
      options,
    };
  }
  return {
    id: msg.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0x0f,
    qdcount: counts[0],
    question,
    answer,
    authority,
    additional: additional.filter((r) => r.type !== 41),
    opt,
  };
}

/** A UDP client socket on loopback that remembers every datagram it receives, in order. */
export class UdpProbe {
  readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private constructor(private readonly socket: UdpSocket) {
    socket.on('message', (msg) => {
      this.received.push(msg);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(): Promise<UdpProbe> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpProbe(socket);
  }

  send(port: number, msg: Buffer): void {
    this.socket.send(msg, port, '127.0.0.1');
  }

  /** Waits until a datagram received at index `from` or later satisfies `pred`; undefined after `ms`. */
  async waitFor(pred: (msg: Buffer) => boolean, ms = 2000, from = 0): Promise<Buffer | undefined> {
    const deadline = Date.now() + ms;
    let seen = from;
    for (;;) {
      for (; seen < this.received.length; seen++) {
        const m = this.received[seen] as Buffer;
        if (pred(m)) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends one message and waits for the next reply with the same id. */
  async exchange(port: number, msg: Buffer, ms = 2000): Promise<Buffer | undefined> {
    const id = msg.readUInt16BE(0);
    const from = this.received.length;
    this.send(port, msg);
    return this.waitFor((m) => m.length >= 2 && m.readUInt16BE(0) === id, ms, from);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A TCP connection reading RFC 1035 §4.2.2 length-prefixed frames. */
export class TcpProbe {
  readonly frames: Buffer[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  private pending: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 2) {
        const len = this.pending.readUInt16BE(0);
        if (this.pending.length < 2 + len) break;
        this.frames.push(this.pending.subarray(2, 2 + len));
        this.pending = this.pending.subarray(2 + len);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static open(port: number): Promise<TcpProbe> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TcpProbe(socket));
      });
    });
  }

  static frame(msg: Buffer): Buffer {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length, 0);
    return Buffer.concat([len, msg]);
  }

  write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(data, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Resolves once `n` frames have arrived in total; rejects after `ms` or on close. */
  async waitFrames(n: number, ms = 2000): Promise<Buffer[]> {
    const deadline = Date.now() + ms;
    while (this.frames.length < n) {
      const left = deadline - Date.now();
      if (left <= 0 || this.isClosed) {
        throw new Error(
          `got ${this.frames.length} of ${n} frames${this.isClosed ? ' (connection closed)' : ''}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.slice(0, n);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Deterministic PRNG (mulberry32) so a failing fuzz case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
