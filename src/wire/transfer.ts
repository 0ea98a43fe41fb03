// The few messages the hidden master writes and reads itself: transfer replies split
// into as many messages as they need (RFC 5936 §2.2), NOTIFY (RFC 1996 §3.6), SOA polls,
// and the client serial of an IXFR request (RFC 1995 §3). The query path has its own
// encoder (encode.ts); transfers differ enough (no size negotiation, many messages,
// one name table per message) to keep apart.
import { Opcode, RRClass, RRType } from './constants.js';
import { encodeName, readName } from './name.js';
import type { ResourceRecord } from './record.js';

/** Room left in each transfer message for a TSIG record (RFC 8945: ~ 100 octets). */
const TSIG_ROOM = 512;
/** Messages are filled up to this size; RFC 5936 allows up to 65535. */
export const TRANSFER_MESSAGE_SIZE = 16384;

/** Writes one message into a private buffer, compressing owner names (RFC 1035 §4.1.4). */
class MessageWriter {
  private readonly buf: Buffer;
  pos = 12;
  private readonly names = new Map<string, number>();
  count = 0;

  constructor(private readonly limit: number) {
    this.buf = Buffer.allocUnsafe(limit);
  }

  /** Appends a record, or returns false (writing nothing) when it does not fit. */
  tryRecord(r: ResourceRecord): boolean {
    const start = this.pos;
    const added: string[] = [];
    let rest = r.name;
    let ok = true;
    while (rest !== '') {
      const ptr = this.names.get(rest);
      if (ptr !== undefined) {
        ok = this.room(2);
        if (ok) {
          this.buf.writeUInt16BE(0xc000 | ptr, this.pos);
          this.pos += 2;
        }
        break;
      }
      const dot = rest.indexOf('.');
      const label = dot < 0 ? rest : rest.slice(0, dot);
      if (!this.room(1 + label.length)) {
        ok = false;
        break;
      }
      if (this.pos < 0x3fff) {
        this.names.set(rest, this.pos);
        added.push(rest);
      }
      this.buf[this.pos++] = label.length;
      this.pos += this.buf.write(label, this.pos, 'latin1');
      rest = dot < 0 ? '' : rest.slice(dot + 1);
    }
    if (ok && rest === '') ok = this.u8(0);
    if (ok) ok = this.room(10 + r.rdata.length);
    if (!ok) {
      this.pos = start;
      for (const n of added) this.names.delete(n);
      return false;
    }
    this.buf.writeUInt16BE(r.type, this.pos);
    this.buf.writeUInt16BE(r.class, this.pos + 2);
    this.buf.writeUInt32BE(r.ttl >>> 0, this.pos + 4);
    this.buf.writeUInt16BE(r.rdata.length, this.pos + 8);
    r.rdata.copy(this.buf, this.pos + 10);
    this.pos += 10 + r.rdata.length;
    this.count++;
    return true;
  }

  private room(n: number): boolean {
    return this.pos + n <= this.limit;
  }

  private u8(v: number): boolean {
    if (!this.room(1)) return false;
    this.buf[this.pos++] = v;
    return true;
  }

  question(question: Buffer, qname: string): void {
    question.copy(this.buf, 12);
    // The question's name (the zone apex) becomes the pointer target of every owner.
    this.names.set(qname, 12);
    this.pos = 12 + question.length;
  }

  finish(id: number, flags: number, qdcount: number): Buffer {
    this.buf.writeUInt16BE(id, 0);
    this.buf.writeUInt16BE(flags, 2);
    this.buf.writeUInt16BE(qdcount, 4);
    this.buf.writeUInt16BE(this.count, 6);
    this.buf.writeUInt32BE(0, 8);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export interface TransferRequest {
  readonly id: number;
  /** The question as asked (case kept), echoed in the first message. */
  readonly question: Buffer;
  readonly qname: string;
  /** RD as asked; copied per RFC 1035 §4.1.1. */
  readonly recursionDesired: boolean;
}

/**
 * The reply to a transfer as messages of at most `size` octets (plus room for TSIG):
 * the question in the first one only (RFC 5936 §2.2.1), records in order, AA on each.
 */
export function transferMessages(
  req: TransferRequest,
  records: Iterable<ResourceRecord>,
  size = TRANSFER_MESSAGE_SIZE,
): Buffer[] {
  const flags = 0x8000 | 0x0400 | (req.recursionDesired ? 0x0100 : 0);
  const out: Buffer[] = [];
  const limit = Math.max(size, 512) - TSIG_ROOM;
  let w = new MessageWriter(limit);
  w.question(req.question, req.qname);
  for (const r of records) {
    if (w.tryRecord(r)) continue;
    if (w.count === 0) throw new Error(`record ${r.name} does not fit in a transfer message`);
    out.push(w.finish(req.id, flags, out.length === 0 ? 1 : 0));
    w = new MessageWriter(limit);
    if (!w.tryRecord(r)) throw new Error(`record ${r.name} does not fit in a transfer message`);
  }
  out.push(w.finish(req.id, flags, out.length === 0 ? 1 : 0));
  return out;
}

/** A bare reply (an error, or a refusal) echoing the question. */
export function bareReply(req: TransferRequest, opcode: number, rcode: number): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(req.id, 0);
  head.writeUInt16BE(
    0x8000 | (opcode << 11) | (req.recursionDesired ? 0x0100 : 0) | (rcode & 0x0f),
    2,
  );
  head.writeUInt16BE(1, 4);
  return Buffer.concat([head, req.question]);
}

function questionFor(zone: string, type: number): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(RRClass.IN, 2);
  return Buffer.concat([encodeName(zone), tail]);
}

/** RFC 1996 §3.6: opcode NOTIFY, AA, the zone's SOA question, and the new SOA as a hint. */
export function notifyMessage(id: number, zone: string, soa: ResourceRecord): Buffer {
  const w = new MessageWriter(4096);
  const question = questionFor(zone, RRType.SOA);
  w.question(question, zone);
  w.tryRecord(soa);
  return w.finish(id, (Opcode.NOTIFY << 11) | 0x0400, 1);
}

/** A plain SOA query for polling a secondary's serial (no recursion wanted). */
export function soaQuery(id: number, zone: string): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(1, 4);
  return Buffer.concat([head, questionFor(zone, RRType.SOA)]);
}

/** The offset just past a possibly compressed name (name.ts reads it). */
const skipName = (msg: Buffer, offset: number): number => readName(msg, offset).end;

/**
 * The serial of the first SOA record in `section` ('answer' or 'authority'), or
 * undefined when there is none. Throws on a malformed message.
 */
export function soaSerialIn(msg: Buffer, section: 'answer' | 'authority'): number | undefined {
  if (msg.length < 12) throw new Error('shorter than a DNS header');
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  let p = 12;
  for (let i = 0; i < qd; i++) p = skipName(msg, p) + 4;
  const first = section === 'answer' ? 0 : an;
  const last = section === 'answer' ? an : an + ns;
  for (let i = 0; i < last; i++) {
    p = skipName(msg, p);
    if (p + 10 > msg.length) throw new Error('record runs past the end of the message');
    const type = msg.readUInt16BE(p);
    const rdlength = msg.readUInt16BE(p + 8);
    const rdata = p + 10;
    p = rdata + rdlength;
    if (p > msg.length) throw new Error('rdata runs past the end of the message');
    if (i >= first && type === RRType.SOA) {
      const afterNames = skipName(msg, skipName(msg, rdata));
      if (afterNames + 20 > p) throw new Error('SOA rdata too short');
      return msg.readUInt32BE(afterNames);
    }
  }
  return undefined;
}
