// The fast path for the common query: a plain QUERY for an ordinary name that this client
// already asked, answered from the snapshot's answer cache without decoding the message
// or running the pipeline. It reads only the header and the question name; everything
// after the question (OPT, ECS, NSID) but the COOKIE option is part of the key byte for
// byte, so a hit is exactly a query the slow path already answered, and its response is
// that answer's bytes with this query's ID and question case. The COOKIE option changes
// per client and over time: it is left out of the key (only its place and length count),
// and the caller checks it and writes the reply's cookie per query (order.ts). Anything unusual is a miss: the slow
// path decides it (and may fill the cache when the answer depends only on the key).
// No allocation until the reply: the key is a hash, checked against the stored bytes.
import { RRClass, RRType } from '../wire/constants.js';
import type { Transport } from '../wire/decode.js';
import type { CachedAnswer } from '../snapshot/answer-cache.js';
import { cookieOptionSpan } from '../wire/cookie.js';

const HEADER = 12;

/** Where a fast-path candidate's question ends, and its key hash. */
export interface FastKey {
  hash: number;
  questionEnd: number;
  /** The COOKIE option's bytes, its header included: [cookieStart, cookieEnd); 0, 0 if none. */
  cookieStart: number;
  cookieEnd: number;
}

/**
 * Header checks that keep exchanges (opcode ≠ QUERY, transfers, TSIG), responses and
 * anything odd off the fast path: QR = 0, opcode 0, one question, no answer or authority
 * records, at most one additional record (the OPT; a signed request has a TSIG there too).
 */
export function plainQuery(msg: Buffer): boolean {
  if (msg.length < HEADER + 5) return false;
  if (((msg[2] as number) & 0xf8) !== 0) return false; // QR and opcode
  return (
    msg[4] === 0 &&
    msg[5] === 1 &&
    msg[6] === 0 &&
    msg[7] === 0 &&
    msg[8] === 0 &&
    msg[9] === 0 &&
    msg[10] === 0 &&
    (msg[11] as number) <= 1
  );
}

const fnv = (h: number, byte: number) => Math.imul(h ^ byte, 0x01000193);

/** DNS case folding of one octet of an LDH name (the only names the fast path takes). */
const fold = (c: number) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/**
 * Continues the FNV-1a hash `h` over the question name of `msg` (ASCII case folded: the
 * name must be letters, digits, '-' and '_', so folding is all DNS case-insensitivity
 * means for it) and sets `at.questionEnd` past the question; undefined when the name runs
 * past the message or is not such a name, or the question is not class IN with an
 * ordinary type (OPT and 249–255: TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY are the slow
 * path's to decide).
 */
export function ordinaryQuestion(
  msg: Buffer,
  h: number,
  at: { questionEnd: number },
): number | undefined {
  let pos = HEADER;
  for (;;) {
    const len = msg[pos];
    if (len === undefined || len > 63) return undefined;
    h = fnv(h, len);
    if (len === 0) break;
    const end = pos + 1 + len;
    if (end > msg.length || end - HEADER > 254) return undefined;
    for (let i = pos + 1; i < end; i++) {
      const c = msg[i] as number;
      const ok =
        (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x30 && c <= 0x39) ||
        c === 0x2d ||
        c === 0x5f;
      if (!ok) return undefined;
      h = fnv(h, fold(c));
    }
    pos = end;
  }
  if (pos === HEADER || pos + 5 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(pos + 1);
  const qclass = msg.readUInt16BE(pos + 3);
  if (qclass !== RRClass.IN || qtype === RRType.OPT || qtype >= 249) return undefined;
  at.questionEnd = pos + 5;
  return h;
}

/**
 * Fills `out` and returns true when the query may be answered from the cache. Names must
 * be letters, digits, '-' and '_' (so folding ASCII case is all DNS case-insensitivity
 * means for them), class IN, and not a meta type. The hash covers the transport, the
 * client address, header octets 2–11, the folded name and every octet after it.
 */
export function fastKey(msg: Buffer, transport: Transport, address: string, out: FastKey): boolean {
  if (!plainQuery(msg)) return false;
  let h = fnv(0x811c9dc5, transport === 'udp' ? 1 : 2);
  for (let i = 0; i < address.length; i++) h = fnv(h, address.charCodeAt(i));
  for (let i = 2; i < HEADER; i++) h = fnv(h, msg[i] as number);
  const named = ordinaryQuestion(msg, h, out);
  if (named === undefined) return false;
  h = named;
  const pos = out.questionEnd - 5;
  // The one additional record must be the OPT (root owner, type 41): a lone TSIG record
  // (RFC 8945) makes a signed request, which belongs to the exchanges.
  if (msg[11] === 1 && (msg[pos + 5] !== 0 || msg[pos + 6] !== 0 || msg[pos + 7] !== RRType.OPT))
    return false;
  const span = msg[11] === 1 ? cookieOptionSpan(msg, pos + 5) : undefined;
  const skipFrom = span ? span.start : msg.length;
  const skipTo = span ? span.end : msg.length;
  for (let i = pos + 1; i < skipFrom; i++) h = fnv(h, msg[i] as number);
  h = fnv(h, skipTo - skipFrom);
  for (let i = skipTo; i < msg.length; i++) h = fnv(h, msg[i] as number);
  out.hash = h >>> 0;
  out.questionEnd = pos + 5;
  out.cookieStart = span ? span.start : 0;
  out.cookieEnd = span ? span.end : 0;
  return true;
}

/** The bytes a cached answer is matched on: the query from octet 2 on, name folded. */
export function keyBytes(msg: Buffer, questionEnd: number): Buffer {
  const key = Buffer.from(msg.subarray(2));
  for (let i = HEADER - 2; i < questionEnd - 6; i++) key[i] = fold(key[i] as number);
  return key;
}

/**
 * Whether `msg` from this client, with key `at`, is the query `cached` was answered for,
 * up to ID, case and the COOKIE option's content.
 */
export function sameQuery(
  cached: CachedAnswer,
  msg: Buffer,
  transport: Transport,
  address: string,
  at: FastKey,
): boolean {
  const key = cached.key;
  if (cached.transport !== transport || cached.address !== address) return false;
  if (key.length !== msg.length - 2) return false;
  if (cached.cookieStart !== at.cookieStart || cached.cookieEnd !== at.cookieEnd) return false;
  const nameStart = HEADER - 2;
  const nameEnd = cached.questionEnd - 6;
  const skipFrom = at.cookieStart - 2;
  const skipTo = at.cookieEnd - 2;
  for (let i = 0; i < key.length; i++) {
    if (i >= skipFrom && i < skipTo) continue;
    const c = msg[i + 2] as number;
    if (key[i] !== (i >= nameStart && i < nameEnd ? fold(c) : c)) return false;
  }
  return true;
}

/** This query's reply from a cached answer: its ID and its question bytes (0x20 case). */
export function patchReply(
  cached: Pick<CachedAnswer, 'wire'>,
  msg: Buffer,
  questionEnd: number,
): Buffer {
  const out = Buffer.allocUnsafe(cached.wire.length);
  cached.wire.copy(out);
  out[0] = msg[0] as number;
  out[1] = msg[1] as number;
  msg.copy(out, HEADER, HEADER, questionEnd);
  return out;
}

/** Skips the (possibly compressed) name at `pos`; -1 when it runs past the message. */
function skipName(wire: Buffer, pos: number): number {
  for (;;) {
    const len = wire[pos];
    if (len === undefined) return -1;
    if (len >= 0xc0) return pos + 2;
    if (len === 0) return pos + 1;
    pos += 1 + len;
  }
}

/**
 * Offsets of the TTL fields a health bound counts down in an encoded response (one
 * question, answer-cache.ts): the A and AAAA records of the answer section, and, in a
 * negative answer (no answer record), the authority section's SOA, whose TTL is the
 * negative TTL (RFC 2308 §3), and its compact-denial NSEC; with each, the RRSIGs covering it.
 */
export function answerTtlOffsets(wire: Buffer): number[] {
  const out: number[] = [];
  if (wire.length < HEADER) return out;
  const qd = wire.readUInt16BE(4);
  const an = wire.readUInt16BE(6);
  const ns = an === 0 ? wire.readUInt16BE(8) : 0;
  let pos = HEADER;
  for (let i = 0; i < qd; i++) {
    pos = skipName(wire, pos);
    if (pos < 0) return [];
    pos += 4;
  }
  for (let i = 0; i < an + ns; i++) {
    pos = skipName(wire, pos);
    if (pos < 0 || pos + 10 > wire.length) return out;
    let type = wire.readUInt16BE(pos);
    // An RRSIG is served with the TTL of the RRset it covers (its type covered, RFC 4034 §3.1.1).
    if (type === RRType.RRSIG && pos + 12 <= wire.length) type = wire.readUInt16BE(pos + 10);
    const counted =
      i < an
        ? type === RRType.A || type === RRType.AAAA
        : type === RRType.SOA || type === RRType.NSEC;
    if (counted) out.push(pos + 4);
    pos += 10 + wire.readUInt16BE(pos + 8);
  }
  return out;
}

/**
 * Counts the TTLs of a reply made from `cached` down to what is left before its bound at
 * `now` (never below its floor, never above what was encoded). The caller has checked
 * `now` is before `cached.validUntil`.
 */
export function countDownTtls(
  cached: Pick<CachedAnswer, 'validUntil' | 'ttlFloor' | 'ttlOffsets'>,
  reply: Buffer,
  now: number,
): void {
  if (cached.validUntil === Infinity) return;
  const left = Math.max(Math.floor((cached.validUntil - now) / 1000), cached.ttlFloor);
  for (const at of cached.ttlOffsets)
    if (reply.readUInt32BE(at) > left) reply.writeUInt32BE(left, at);
}
