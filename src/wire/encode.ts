// Encodes a response for a decoded Query: header, the question echoed verbatim, the
// three record sections with owner-name compression (RFC 1035 §4.1.4), and the OPT record
// (RFC 6891) with NSID (RFC 5001), ECS (RFC 7871), an Extended DNS Error (RFC 8914) and
// COOKIE (RFC 7873) when there is one; the
// COOKIE option is always the last bytes of the message, so a cached reply's cookie can
// be rewritten in place. Enforces the size limit:
// additional records are dropped first; if the answer or authority section does not fit,
// the reply carries TC and no records so the client retries over TCP (RFC 2181 §9).
import { EdnsOption, MAX_MESSAGE, RRType } from './constants.js';
import type { Edns, Query } from './decode.js';
import type { ResourceRecord } from './record.js';

export interface Response {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answer: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  readonly additional: readonly ResourceRecord[];
  /** ECS scope prefix length for the echoed option; 0 when the answer ignores the subnet. */
  readonly ecsScope?: number;
  /** Extended DNS Error (RFC 8914), sent when the query had EDNS. */
  readonly ede?: ExtendedError | undefined;
}

/** RFC 8914 §4: an INFO-CODE and an optional short UTF-8 text. */
export interface ExtendedError {
  readonly code: number;
  readonly text?: string;
}

/** RFC 8914 §4 codes Cirrus sends. */
export const Ede = {
  OTHER: 0,
  PROHIBITED: 18,
  NOT_AUTHORITATIVE: 20,
} as const;

export interface EncodeLimits {
  /** Largest message the transport can carry for this query. */
  readonly maxSize: number;
  /** Our EDNS UDP payload size, advertised in the OPT record. */
  readonly ourUdpSize: number;
  /** NSID payload (RFC 5001), sent only when the query asks for it. */
  readonly nsid: Buffer | undefined;
  /** The whole COOKIE option (code, length, data) the response carries, written last. */
  readonly cookie?: Uint8Array | undefined;
}

const scratch = Buffer.allocUnsafe(MAX_MESSAGE + 512);

class Overflow extends Error {}

class Writer {
  pos = 0;
  readonly names = new Map<string, number>();
  constructor(public limit: number) {}

  ensure(n: number): void {
    if (this.pos + n > this.limit) throw new Overflow();
  }
  u8(v: number): void {
    this.ensure(1);
    scratch[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    scratch.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    scratch.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    scratch.set(b, this.pos);
    this.pos += b.length;
  }
  /** Owner names are lower-case LDH text from the snapshot, or the qname (always compressed). */
  name(name: string): void {
    let rest = name;
    while (rest !== '') {
      const ptr = this.names.get(rest);
      if (ptr !== undefined) {
        this.u16(0xc000 | ptr);
        return;
      }
      if (this.pos < 0x3fff) this.names.set(rest, this.pos);
      const dot = rest.indexOf('.');
      const label = dot < 0 ? rest : rest.slice(0, dot);
      this.ensure(1 + label.length);
      scratch[this.pos++] = label.length;
      this.pos += scratch.write(label, this.pos, 'latin1');
      rest = dot < 0 ? '' : rest.slice(dot + 1);
    }
    this.u8(0);
  }
  record(r: ResourceRecord): void {
    this.name(r.name);
    this.u16(r.type);
    this.u16(r.class);
    this.u32(r.ttl);
    this.u16(r.rdata.length);
    this.bytes(r.rdata);
  }
}

/** Registers every suffix of the question name so owners equal to it become pointers. */
function indexQuestion(w: Writer, qname: string, question: Buffer): void {
  let offset = 12;
  let rest = qname;
  while (rest !== '' && (question[offset - 12] as number) !== 0) {
    w.names.set(rest, offset);
    offset += 1 + (question[offset - 12] as number);
    const dot = rest.indexOf('.');
    // A label with an escaped dot would desynchronise text and wire: stop indexing there.
    if (dot < 0 || rest.includes('\\')) break;
    rest = rest.slice(dot + 1);
  }
}

function writeOpt(
  w: Writer,
  edns: Edns,
  rcode: number,
  scope: number | undefined,
  limits: EncodeLimits,
  ede: ExtendedError | undefined,
): void {
  w.u8(0);
  w.u16(RRType.OPT);
  w.u16(limits.ourUdpSize);
  // TTL: extended RCODE (high 8 bits of 12), version 0, DO echoed (RFC 3225 §3).
  w.u32(((rcode >> 4) << 24) | (edns.dnssecOk ? 0x8000 : 0));
  const lenAt = w.pos;
  w.u16(0);
  if (edns.nsidRequested && limits.nsid) {
    w.u16(EdnsOption.NSID);
    w.u16(limits.nsid.length);
    w.bytes(limits.nsid);
  }
  const ecs = edns.clientSubnet;
  if (ecs && scope !== undefined) {
    const addrLen = Math.ceil(ecs.sourcePrefix / 8);
    w.u16(EdnsOption.ECS);
    w.u16(4 + addrLen);
    w.u16(ecs.family);
    w.u8(ecs.sourcePrefix);
    w.u8(scope);
    w.bytes(ecs.address.subarray(0, addrLen));
  }
  if (ede) {
    const text = ede.text ? Buffer.from(ede.text, 'utf8') : undefined;
    w.u16(EdnsOption.EDE);
    w.u16(2 + (text?.length ?? 0));
    w.u16(ede.code);
    if (text) w.bytes(text);
  }
  if (limits.cookie) w.bytes(limits.cookie);
  scratch.writeUInt16BE(w.pos - lenAt - 2, lenAt);
}

function optSize(
  edns: Edns | undefined,
  limits: EncodeLimits,
  withEcs: boolean,
  ede: ExtendedError | undefined,
): number {
  if (!edns) return 0;
  let n = 11;
  if (edns.nsidRequested && limits.nsid) n += 4 + limits.nsid.length;
  if (edns.clientSubnet && withEcs) n += 8 + Math.ceil(edns.clientSubnet.sourcePrefix / 8);
  if (limits.cookie) n += limits.cookie.length;
  if (ede) n += 6 + (ede.text ? Buffer.byteLength(ede.text, 'utf8') : 0);
  return n;
}

export function encodeResponse(query: Query, res: Response, limits: EncodeLimits): Buffer {
  const edns = query.edns;
  const scope = res.ecsScope;
  // RFC 6891 §7: an extended RCODE needs an OPT; without EDNS only the low 4 bits exist.
  const limit =
    Math.min(limits.maxSize, MAX_MESSAGE) - optSize(edns, limits, scope !== undefined, res.ede);
  const w = new Writer(limit);
  w.pos = 12;
  w.bytes(query.question);
  indexQuestion(w, query.qname, query.question);
  const afterQuestion = w.pos;
  const counts: [number, number, number] = [0, 0, 0];
  let truncated = false;
  try {
    for (const r of res.answer) {
      w.record(r);
      counts[0]++;
    }
    for (const r of res.authority) {
      w.record(r);
      counts[1]++;
    }
  } catch (err) {
    if (!(err instanceof Overflow)) throw err;
    truncated = true;
    w.pos = afterQuestion;
    counts[0] = counts[1] = 0;
  }
  if (!truncated) {
    // Additional data is optional: keep whole RRsets (with their RRSIGs) that fit, in order.
    let i = 0;
    const add = res.additional;
    while (i < add.length) {
      const first = add[i] as ResourceRecord;
      let j = i;
      const mark = w.pos;
      try {
        while (
          j < add.length &&
          (add[j] as ResourceRecord).name === first.name &&
          ((add[j] as ResourceRecord).type === first.type ||
            (add[j] as ResourceRecord).type === RRType.RRSIG)
        ) {
          w.record(add[j] as ResourceRecord);
          j++;
        }
        counts[2] += j - i;
      } catch (err) {
        if (!(err instanceof Overflow)) throw err;
        w.pos = mark;
        break;
      }
      i = j;
    }
  }
  // The OPT record always fits: its size was reserved out of `limit`.
  w.limit = MAX_MESSAGE;
  if (edns) {
    writeOpt(w, edns, res.rcode, scope, limits, res.ede);
    counts[2]++;
  }
  const rcode = edns ? res.rcode & 0x0f : res.rcode > 15 ? 2 : res.rcode;
  let flags = 0x8000 | (query.opcode << 11);
  if (res.authoritative) flags |= 0x0400;
  if (truncated) flags |= 0x0200;
  if (query.recursionDesired) flags |= 0x0100;
  if (query.checkingDisabled) flags |= 0x0010;
  flags |= rcode;
  scratch.writeUInt16BE(query.id, 0);
  scratch.writeUInt16BE(flags, 2);
  scratch.writeUInt16BE(1, 4);
  scratch.writeUInt16BE(counts[0] as number, 6);
  scratch.writeUInt16BE(counts[1] as number, 8);
  scratch.writeUInt16BE(counts[2] as number, 10);
  return Buffer.from(scratch.subarray(0, w.pos));
}

/** A bare error reply for a request that could not be decoded into a Query. */
export function encodeError(
  id: number,
  opcode: number,
  requestFlags: number,
  rcode: number,
  question: Buffer | undefined,
): Buffer {
  const out = Buffer.alloc(12 + (question?.length ?? 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x8000 | (opcode << 11) | (requestFlags & 0x0100) | (rcode & 0x0f), 2);
  out.writeUInt16BE(question ? 1 : 0, 4);
  question?.copy(out, 12);
  return out;
}
