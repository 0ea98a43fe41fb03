// Builds query packets by hand so unit tests control every bit, and reads replies with
// dns2's decoder (an independent implementation of the wire format).
import dns2 from 'dns2';

export interface QueryBits {
  id?: number;
  name: string;
  type?: number;
  cls?: number;
  flags?: number;
  /** OPT record: udp size, version, DO, raw options. */
  opt?: {
    udp?: number;
    version?: number;
    do?: boolean;
    options?: Array<{ code: number; data: Buffer }>;
  };
}

export function nameBytes(name: string): Buffer {
  const parts = name
    .split('.')
    .filter(Boolean)
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

export function buildQuery(q: QueryBits): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id ?? 0x1234, 0);
  header.writeUInt16BE(q.flags ?? 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(q.opt ? 1 : 0, 10);
  const qt = Buffer.alloc(4);
  qt.writeUInt16BE(q.type ?? 1, 0);
  qt.writeUInt16BE(q.cls ?? 1, 2);
  const parts = [header, nameBytes(q.name), qt];
  if (q.opt) {
    const opts = Buffer.concat(
      (q.opt.options ?? []).map((o) => {
        const h = Buffer.alloc(4);
        h.writeUInt16BE(o.code, 0);
        h.writeUInt16BE(o.data.length, 2);
        return Buffer.concat([h, o.data]);
      }),
    );
    const rr = Buffer.alloc(11);
    rr.writeUInt8(0, 0);
    rr.writeUInt16BE(41, 1);
    rr.writeUInt16BE(q.opt.udp ?? 1232, 3);
    rr.writeUInt32BE((((q.opt.version ?? 0) & 0xff) << 16) | (q.opt.do ? 0x8000 : 0), 5);
    rr.writeUInt16BE(opts.length, 9);
    parts.push(rr, opts);
  }
  return Buffer.concat(parts);
}

export function ecsOption(
  family: number,
  source: number,
  scope: number,
  address: number[],
): { code: number; data: Buffer } {
  const data = Buffer.alloc(4 + address.length);
  data.writeUInt16BE(family, 0);
  data[2] = source;
  data[3] = scope;
  Buffer.from(address).copy(data, 4);
  return { code: 8, data };
}

// `any`: dns2's packet object is untyped; tests assert on its fields directly.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function parseReply(buf: Buffer): any {
  return dns2.Packet.parse(buf);
}

export function flagsOf(buf: Buffer): {
  qr: boolean;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
} {
  const f = buf.readUInt16BE(2);
  return {
    qr: !!(f & 0x8000),
    aa: !!(f & 0x0400),
    tc: !!(f & 0x0200),
    rd: !!(f & 0x0100),
    ra: !!(f & 0x0080),
    rcode: f & 0x0f,
  };
}

export function counts(buf: Buffer): [number, number, number, number] {
  return [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
}
