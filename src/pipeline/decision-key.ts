// How a query is reduced to what its answer depends on (snapshot/decision-cache.ts), and
// how a cached answer becomes this query's reply. The probe reads the header, the question
// and the OPT record the way wire/decode.ts does and takes only what decode accepts and
// the pipeline answers the same for every client with the same key: a plain QUERY (no
// TSIG), an LDH name, class IN, no meta type, EDNS version 0, well-formed NSID, ECS and
// COOKIE options; anything else is a miss for the slow path to decide. Options decode
// ignores are ignored here too. A hit's reply is the cached wire with this query's ID,
// question case and ECS address octets written over (its family and source prefix are
// part of the key, the scope is the answer's), the cookie written by the caller.
// No allocation until the reply, but once per new resolver address or bucket.
import { MAX_MESSAGE, MAX_UDP_NO_EDNS, RRType } from '../wire/constants.js';
import { clientSubnetProblem, type Transport } from '../wire/decode.js';
import { COOKIE_OPTION, cookieLengthAllowed } from '../wire/cookie.js';
import { ordinaryQuestion, plainQuery } from './fast-path.js';
import type { Location } from '../gslb/location.js';
import type { LocationMemo } from '../gslb/location-memo.js';
import type { Decision } from '../gslb/decide.js';
import { Basis, type DecisionAnswer, type DecisionCache } from '../snapshot/decision-cache.js';

const HEADER = 12;
const NSID_OPTION = 3;
const ECS_OPTION = 8;

const SHAPE_TCP = 1;
const SHAPE_EDNS = 2;
const SHAPE_DO = 4;
const SHAPE_NSID = 8;
const SHAPE_COOKIE = 16;

/** One query's key material, filled by `decisionProbe` (one per handler, reused). */
export interface DecisionProbe {
  /** Hash of the folded question, the flags, the shape and the size limit. */
  hash: number;
  questionEnd: number;
  flags: number;
  shape: number;
  sizeLimit: number;
  /** ECS family (1, 2; 0 without ECS), source prefix, and where its address octets sit in the query. */
  ecsFamily: number;
  ecsSource: number;
  ecsAt: number;
  ecsBytes: number;
  /** The COOKIE option's bytes, its header included: [cookieStart, cookieEnd); 0, 0 if none. */
  cookieStart: number;
  cookieEnd: number;
  /** The ECS address zero-padded to its family's length (what decode makes of it). */
  readonly ecsAddress: Buffer;
}

export function newProbe(): DecisionProbe {
  return {
    hash: 0,
    questionEnd: 0,
    flags: 0,
    shape: 0,
    sizeLimit: 0,
    ecsFamily: 0,
    ecsSource: 0,
    ecsAt: 0,
    ecsBytes: 0,
    cookieStart: 0,
    cookieEnd: 0,
    ecsAddress: Buffer.alloc(16),
  };
}

const fnv = (h: number, byte: number) => Math.imul(h ^ byte, 0x01000193);
const fold = (c: number) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/** Reads the OPT record's options at [start, end) into `out`; false when decode would reject them. */
function readOptions(msg: Buffer, start: number, end: number, out: DecisionProbe): boolean {
  let nsid = false;
  for (let p = start; p < end;) {
    if (p + 4 > end) return false;
    const code = msg.readUInt16BE(p);
    const len = msg.readUInt16BE(p + 2);
    if (p + 4 + len > end) return false;
    if (code === NSID_OPTION) nsid = true;
    else if (code === ECS_OPTION) {
      // RFC 7871 §6, as decode checks it.
      if (out.ecsFamily !== 0 || clientSubnetProblem(msg, p + 4, len) !== undefined) return false;
      const family = msg.readUInt16BE(p + 4);
      const source = msg[p + 6] as number;
      const bytes = Math.ceil(source / 8);
      out.ecsFamily = family;
      out.ecsSource = source;
      out.ecsAt = p + 8;
      out.ecsBytes = bytes;
      out.ecsAddress.fill(0);
      msg.copy(out.ecsAddress, 0, p + 8, p + 8 + bytes);
    } else if (code === COOKIE_OPTION) {
      if (out.cookieEnd !== 0 || !cookieLengthAllowed(len)) return false;
      out.cookieStart = p;
      out.cookieEnd = p + 4 + len;
    }
    p += 4 + len;
  }
  if (nsid) out.shape |= SHAPE_NSID;
  return true;
}

/**
 * Fills `out` and returns true when the query may be answered from the decision cache:
 * see the module comment for what qualifies. `ourUdpSize` is the server's EDNS size.
 */
export function decisionProbe(
  msg: Buffer,
  transport: Transport,
  ourUdpSize: number,
  out: DecisionProbe,
): boolean {
  if (!plainQuery(msg)) return false;
  const named = ordinaryQuestion(msg, 0x811c9dc5, out);
  if (named === undefined) return false;
  let h = named;
  const questionEnd = out.questionEnd;
  for (let i = questionEnd - 4; i < questionEnd; i++) h = fnv(h, msg[i] as number);
  out.flags = msg.readUInt16BE(2);
  out.shape = transport === 'tcp' ? SHAPE_TCP : 0;
  out.ecsFamily = 0;
  out.ecsSource = 0;
  out.ecsAt = 0;
  out.ecsBytes = 0;
  out.cookieStart = 0;
  out.cookieEnd = 0;
  let udpSize = 0;
  if (msg[11] === 1) {
    // The one additional record must be an OPT owned by the root (RFC 6891 §6.1.1).
    const at = questionEnd;
    if (at + 11 > msg.length || msg[at] !== 0 || msg.readUInt16BE(at + 1) !== RRType.OPT)
      return false;
    // TTL: extended RCODE, version (only 0 here: the guard answers others BADVERS), flags.
    if (msg[at + 6] !== 0) return false;
    const rdStart = at + 11;
    const rdEnd = rdStart + msg.readUInt16BE(at + 9);
    if (rdEnd > msg.length) return false;
    out.shape |= SHAPE_EDNS;
    if (((msg[at + 7] as number) & 0x80) !== 0) out.shape |= SHAPE_DO;
    if (!readOptions(msg, rdStart, rdEnd, out)) return false;
    if (out.cookieEnd !== 0) out.shape |= SHAPE_COOKIE;
    out.shape |= (out.ecsFamily << 8) | (out.ecsSource << 16);
    udpSize = Math.max(msg.readUInt16BE(at + 3), 512);
  }
  out.sizeLimit =
    transport === 'tcp'
      ? MAX_MESSAGE
      : udpSize > 0
        ? Math.min(udpSize, ourUdpSize)
        : MAX_UDP_NO_EDNS;
  h = fnv(h, out.flags >>> 8);
  h = fnv(h, out.flags & 0xff);
  h = Math.imul(h ^ out.shape, 0x01000193);
  h = Math.imul(h ^ out.sizeLimit, 0x01000193);
  out.hash = h >>> 0;
  return true;
}

/** The cache key of a probed query under one basis and location class. */
export function decisionKey(p: DecisionProbe, basis: Basis, classId: number): number {
  let h = Math.imul(p.hash ^ basis, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h ^ classId, 0x85ebca77);
  h ^= h >>> 13;
  return h >>> 0;
}

/** Whether `e` answers the probed query `msg` under (basis, classId): the key, compared whole. */
function sameKey(
  e: DecisionAnswer,
  msg: Buffer,
  p: DecisionProbe,
  basis: Basis,
  classId: number,
): boolean {
  if (e.basis !== basis || e.classId !== classId) return false;
  if (e.flags !== p.flags || e.shape !== p.shape || e.sizeLimit !== p.sizeLimit) return false;
  const q = e.question;
  if (q.length !== p.questionEnd - HEADER) return false;
  const nameEnd = q.length - 4;
  for (let i = 0; i < q.length; i++) {
    const c = msg[HEADER + i] as number;
    if (q[i] !== (i < nameEnd ? fold(c) : c)) return false;
  }
  return true;
}

function probeOne(
  cache: DecisionCache,
  msg: Buffer,
  p: DecisionProbe,
  basis: Basis,
  classId: number,
): DecisionAnswer | undefined {
  if (classId < 0) return undefined;
  const key = decisionKey(p, basis, classId);
  const e = cache.peek(key);
  if (!e || !sameKey(e, msg, p, basis, classId)) return undefined;
  cache.use(key);
  return e;
}

/**
 * The cached answer for a probed query, trying each basis it may have been stored under:
 * none (no decision), its ECS subnet's class, its resolver's class. Only one of them can
 * hold an entry for a given question and shape in one snapshot: whether decisions are
 * made, and which address they locate, depends on the question, the shape and the
 * domain's plan alone.
 */
export function lookupDecision(
  cache: DecisionCache,
  memo: LocationMemo,
  msg: Buffer,
  address: string,
  p: DecisionProbe,
): DecisionAnswer | undefined {
  const none = probeOne(cache, msg, p, Basis.NONE, 0);
  if (none) return none;
  if (p.ecsSource > 0) {
    const family = p.ecsFamily === 1 ? 4 : 6;
    const e = probeOne(cache, msg, p, Basis.ECS, memo.classAt(family, p.ecsAddress, 0));
    if (e) return e;
  }
  const point = memo.resolverPoint(address);
  return probeOne(cache, msg, p, Basis.RESOLVER, memo.classAt(point.family, point.bytes, 0));
}

/**
 * The basis and class an answer computed from `locations` with `decisions` is stored
 * under, or undefined when it may not be shared: a location whose bucket is not uniform,
 * picks spread by the client's own address, or decisions that read two different
 * locations.
 */
export function decisionBasis(
  memo: LocationMemo,
  decisions: readonly Decision[],
  ...locations: readonly (Location | undefined)[]
): { basis: Basis; classId: number } | undefined {
  if (decisions.length === 0) return { basis: Basis.NONE, classId: 0 };
  for (const d of decisions) if (d.spread) return undefined;
  let basis: Basis | undefined;
  let classId = -1;
  for (const loc of locations) {
    if (!loc) continue;
    const b = loc.source === 'ecs' ? Basis.ECS : Basis.RESOLVER;
    const c = memo.classOf(loc);
    if (c < 0) return undefined;
    if (basis !== undefined && (b !== basis || c !== classId)) return undefined;
    basis = b;
    classId = c;
  }
  return basis === undefined ? undefined : { basis, classId };
}

/** The question of a probed query as the cache keeps it (name case-folded). */
export function foldedQuestion(msg: Buffer, p: DecisionProbe): Buffer {
  const q = Buffer.from(msg.subarray(HEADER, p.questionEnd));
  for (let i = 0; i < q.length - 4; i++) q[i] = fold(q[i] as number);
  return q;
}

/** This query's reply from `e`: its ID, question bytes (0x20 case) and ECS address. */
export function patchDecisionReply(e: DecisionAnswer, msg: Buffer, p: DecisionProbe): Buffer {
  const out = Buffer.allocUnsafe(e.wire.length);
  e.wire.copy(out);
  out[0] = msg[0] as number;
  out[1] = msg[1] as number;
  msg.copy(out, HEADER, HEADER, p.questionEnd);
  if (e.ecsAt !== 0) msg.copy(out, e.ecsAt, p.ecsAt, p.ecsAt + p.ecsBytes);
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
 * Where the ECS option's address octets sit in an encoded response (its OPT record's
 * option 8, RFC 7871 §6), or 0 when it has none.
 */
export function ecsAddressOffset(wire: Buffer): number {
  if (wire.length < HEADER) return 0;
  const records = wire.readUInt16BE(6) + wire.readUInt16BE(8) + wire.readUInt16BE(10);
  let pos = HEADER;
  for (let i = wire.readUInt16BE(4); i > 0; i--) {
    pos = skipName(wire, pos);
    if (pos < 0) return 0;
    pos += 4;
  }
  for (let i = 0; i < records; i++) {
    pos = skipName(wire, pos);
    if (pos < 0 || pos + 10 > wire.length) return 0;
    const type = wire.readUInt16BE(pos);
    const rdStart = pos + 10;
    const rdEnd = rdStart + wire.readUInt16BE(pos + 8);
    if (type === RRType.OPT) {
      for (let p = rdStart; p + 4 <= rdEnd; p += 4 + wire.readUInt16BE(p + 2))
        if (wire.readUInt16BE(p) === ECS_OPTION) return p + 8;
      return 0;
    }
    pos = rdEnd;
  }
  return 0;
}
