// TSIG (RFC 8945): verifies signed requests and signs replies, NOTIFYs and every message
// of a transfer. It decides only what the signature says; who may transfer or update
// with which key is the caller's business (xfr/peers.ts for transfers, acme/update.ts for
// UPDATE).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RRClass, RRType, Rcode } from './constants.js';
import { encodeName, readName as readWireName } from './name.js';
import type { Query } from './decode.js';
import { normalizeName } from '../lib/dnsname.js';

export type TsigAlgorithm = 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha512';

export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = [
  'hmac-sha1',
  'hmac-sha256',
  'hmac-sha512',
];

const HASH: Record<TsigAlgorithm, { digest: string; size: number }> = {
  'hmac-sha1': { digest: 'sha1', size: 20 },
  'hmac-sha256': { digest: 'sha256', size: 32 },
  'hmac-sha512': { digest: 'sha512', size: 64 },
};

/** RFC 8945 §3: the TSIG error field. */
export const TsigError = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

/** RFC 8945 §10: 300 s is the recommended fudge. */
export const DEFAULT_FUDGE = 300;

export interface TsigKey {
  /** Lower-case, no trailing dot. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** Accepts the spellings operators use (`sha256`, `HMAC-SHA256`, BIND's `hmac-sha256.`). */
export function parseAlgorithm(text: string): TsigAlgorithm | undefined {
  const t = normalizeName(text.trim());
  const full = t.startsWith('hmac-') ? t : `hmac-${t}`;
  return (TSIG_ALGORITHMS as readonly string[]).includes(full)
    ? (full as TsigAlgorithm)
    : undefined;
}

export class TsigKeyring {
  private readonly keys = new Map<string, TsigKey>();

  constructor(keys: readonly TsigKey[]) {
    for (const k of keys) this.keys.set(normalizeName(k.name), k);
  }

  get(name: string): TsigKey | undefined {
    return this.keys.get(normalizeName(name));
  }

  get size(): number {
    return this.keys.size;
  }
}

/** The TSIG record of a message, as read from the wire. */
export interface TsigRecord {
  /** Offset of the record's owner name: everything before it is what was signed. */
  readonly offset: number;
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly other: Buffer;
}

export type TsigVerified =
  | { readonly ok: true; readonly key: TsigKey; readonly mac: Buffer; readonly record: TsigRecord }
  | {
      readonly ok: false;
      readonly error: 'FORMERR' | 'BADKEY' | 'BADSIG' | 'BADTIME';
      readonly keyName: string;
      /** Present for BADTIME: the key verified, so the error reply is signed with it. */
      readonly key?: TsigKey;
      readonly mac?: Buffer;
      readonly record?: TsigRecord;
    };

class Malformed extends Error {}

/** Owner names may be compressed (RFC 8945 §4.2). */
function readName(msg: Buffer, offset: number): { name: string; end: number } {
  try {
    return readWireName(msg, offset);
  } catch (err) {
    throw new Malformed((err as Error).message);
  }
}

export function parseTsigRecord(msg: Buffer, offset: number): TsigRecord {
  try {
    const owner = readName(msg, offset);
    let p = owner.end;
    if (p + 10 > msg.length) throw new Malformed('record header runs past the end');
    const type = msg.readUInt16BE(p);
    const cls = msg.readUInt16BE(p + 2);
    const rdlength = msg.readUInt16BE(p + 8);
    p += 10;
    const rdEnd = p + rdlength;
    if (type !== RRType.TSIG || cls !== RRClass.ANY) throw new Malformed('not a TSIG record');
    if (rdEnd !== msg.length) throw new Malformed('TSIG rdata does not end the message');
    const alg = readName(msg, p);
    p = alg.end;
    if (p + 10 > rdEnd) throw new Malformed('TSIG rdata too short');
    const timeSigned = msg.readUIntBE(p, 6);
    const fudge = msg.readUInt16BE(p + 6);
    const macSize = msg.readUInt16BE(p + 8);
    p += 10;
    if (p + macSize + 6 > rdEnd) throw new Malformed('TSIG MAC runs past the rdata');
    const mac = msg.subarray(p, p + macSize);
    p += macSize;
    const originalId = msg.readUInt16BE(p);
    const error = msg.readUInt16BE(p + 2);
    const otherLen = msg.readUInt16BE(p + 4);
    p += 6;
    if (p + otherLen !== rdEnd) throw new Malformed('TSIG other data does not fill the rdata');
    return {
      offset,
      keyName: owner.name,
      algorithm: alg.name,
      timeSigned,
      fudge,
      mac,
      originalId,
      error,
      other: msg.subarray(p, rdEnd),
    };
  } catch (err) {
    if (err instanceof Malformed) throw new Error(`malformed TSIG record: ${err.message}`);
    throw err;
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/** RFC 8945 §4.3.3: the TSIG variables that follow the message in the digest. */
function variables(
  key: TsigKey,
  time: number,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  return Buffer.concat([
    encodeName(key.name),
    u16(RRClass.ANY),
    Buffer.alloc(4), // TTL 0
    encodeName(key.algorithm),
    u48(time),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

/** The message as signed: without its TSIG record, ARCOUNT one lower, the original ID. */
function unsignedPart(msg: Buffer, record: TsigRecord): Buffer {
  const part = Buffer.from(msg.subarray(0, record.offset));
  part.writeUInt16BE(record.originalId, 0);
  part.writeUInt16BE(part.readUInt16BE(10) - 1, 10);
  return part;
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm].digest, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

function macMatches(key: TsigKey, expected: Buffer, got: Buffer): boolean {
  // RFC 8945 §5.2.2.1: truncated MACs are not accepted here; full length only.
  return got.length === HASH[key.algorithm].size && timingSafeEqual(expected, got);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function record(
  key: TsigKey,
  mac: Buffer,
  f: { id: number; time: number; fudge: number; error: number; other: Buffer },
): Buffer {
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    u48(f.time),
    u16(f.fudge),
    u16(mac.length),
    mac,
    u16(f.id),
    u16(f.error),
    u16(f.other.length),
    f.other,
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(RRType.TSIG, 0);
  head.writeUInt16BE(RRClass.ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(key.name), head, rdata]);
}

function appendRecord(msg: Buffer, rec: Buffer): Buffer {
  const out = Buffer.concat([msg, rec]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Verifies a signed request (RFC 8945 §5.2): key known with that algorithm, MAC correct,
 * then the time within the fudge. The order matters: BADTIME is only reported for a
 * request whose MAC verified, and its reply is signed.
 */
export function verifyRequest(
  msg: Buffer,
  tsigOffset: number,
  keyring: TsigKeyring,
  nowSec: number = nowSeconds(),
): TsigVerified {
  let rec: TsigRecord;
  try {
    rec = parseTsigRecord(msg, tsigOffset);
  } catch {
    return { ok: false, error: 'FORMERR', keyName: '' };
  }
  const key = keyring.get(rec.keyName);
  if (!key || parseAlgorithm(rec.algorithm) !== key.algorithm) {
    return { ok: false, error: 'BADKEY', keyName: rec.keyName, record: rec };
  }
  const expected = hmac(key, [
    unsignedPart(msg, rec),
    variables(key, rec.timeSigned, rec.fudge, rec.error, rec.other),
  ]);
  if (!macMatches(key, expected, rec.mac)) {
    return { ok: false, error: 'BADSIG', keyName: rec.keyName, record: rec };
  }
  if (Math.abs(nowSec - rec.timeSigned) > rec.fudge) {
    return { ok: false, error: 'BADTIME', keyName: rec.keyName, key, mac: rec.mac, record: rec };
  }
  return { ok: true, key, mac: rec.mac, record: rec };
}

export interface SignContext {
  key: TsigKey;
  /** The request's MAC: a reply's digest starts with it (RFC 8945 §4.3.1). */
  requestMac: Buffer | undefined;
  /** TSIG error field (e.g. BADTIME); 0 for a normal reply. */
  error?: number;
  /** Time Signed; defaults to now. For BADTIME the request's time is echoed. */
  timeSigned?: number;
  /** Other Data; for BADTIME the server's current time (RFC 8945 §5.2.3). */
  other?: Buffer;
  nowSec?: number;
  fudge?: number;
}

/** Signs a single reply (or a request, with requestMac undefined). Returns the signed message. */
export function signReply(reply: Buffer, ctx: SignContext): Buffer {
  return signWithMac(reply, ctx).message;
}

export function signWithMac(msg: Buffer, ctx: SignContext): { message: Buffer; mac: Buffer } {
  const time = ctx.timeSigned ?? ctx.nowSec ?? nowSeconds();
  const fudge = ctx.fudge ?? DEFAULT_FUDGE;
  const error = ctx.error ?? 0;
  const other = ctx.other ?? Buffer.alloc(0);
  const parts: Buffer[] = [];
  if (ctx.requestMac) parts.push(u16(ctx.requestMac.length), ctx.requestMac);
  parts.push(msg, variables(ctx.key, time, fudge, error, other));
  const mac = hmac(ctx.key, parts);
  const id = msg.readUInt16BE(0);
  return {
    message: appendRecord(msg, record(ctx.key, mac, { id, time, fudge, error, other })),
    mac,
  };
}

/**
 * Signs every message of a multi-message reply (RFC 8945 §5.3.1): the first like a
 * single reply, each later one over the prior MAC, the message and the timers only.
 */
export class TsigStream {
  private prior: Buffer | undefined;

  constructor(
    private readonly key: TsigKey,
    private readonly requestMac: Buffer,
    private readonly nowSec: () => number = nowSeconds,
  ) {}

  sign(msg: Buffer): Buffer {
    if (!this.prior) {
      const first = signWithMac(msg, {
        key: this.key,
        requestMac: this.requestMac,
        nowSec: this.nowSec(),
      });
      this.prior = first.mac;
      return first.message;
    }
    const time = this.nowSec();
    const mac = hmac(this.key, [
      u16(this.prior.length),
      this.prior,
      msg,
      u48(time),
      u16(DEFAULT_FUDGE),
    ]);
    this.prior = mac;
    return appendRecord(
      msg,
      record(this.key, mac, {
        id: msg.readUInt16BE(0),
        time,
        fudge: DEFAULT_FUDGE,
        error: 0,
        other: Buffer.alloc(0),
      }),
    );
  }
}

/** Verifies a signed reply to a request we signed with `requestMac` (a NOTIFY answer). */
export function verifyReply(
  reply: Buffer,
  key: TsigKey,
  requestMac: Buffer,
  nowSec: number = nowSeconds(),
): { ok: true } | { ok: false; reason: string } {
  const offset = findTsig(reply);
  if (offset === undefined) return { ok: false, reason: 'the reply is not signed' };
  let rec: TsigRecord;
  try {
    rec = parseTsigRecord(reply, offset);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (rec.keyName !== key.name || parseAlgorithm(rec.algorithm) !== key.algorithm)
    return { ok: false, reason: `signed with another key (${rec.keyName} ${rec.algorithm})` };
  if (rec.error !== 0) return { ok: false, reason: `TSIG error ${tsigErrorName(rec.error)}` };
  const expected = hmac(key, [
    u16(requestMac.length),
    requestMac,
    unsignedPart(reply, rec),
    variables(key, rec.timeSigned, rec.fudge, rec.error, rec.other),
  ]);
  if (!macMatches(key, expected, rec.mac)) return { ok: false, reason: 'bad signature' };
  if (Math.abs(nowSec - rec.timeSigned) > rec.fudge) return { ok: false, reason: 'bad time' };
  return { ok: true };
}

/** Offset of the TSIG record when it is the last record of the message. */
export function findTsig(msg: Buffer): number | undefined {
  if (msg.length < 12) return undefined;
  const total =
    msg.readUInt16BE(4) + msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  let p = 12;
  let last = -1;
  try {
    for (let i = 0; i < total; i++) {
      const start = p;
      if (i < msg.readUInt16BE(4)) {
        p = readName(msg, p).end + 4;
        continue;
      }
      p = readName(msg, p).end;
      if (p + 10 > msg.length) return undefined;
      const type = msg.readUInt16BE(p);
      p += 10 + msg.readUInt16BE(p + 8);
      last = i === total - 1 && type === RRType.TSIG ? start : -1;
    }
  } catch {
    return undefined;
  }
  return last >= 0 ? last : undefined;
}

export function tsigErrorName(code: number): string {
  const found = Object.entries(TsigError).find(([, v]) => v === code);
  return found ? found[0] : `error ${code}`;
}

/**
 * The reply to a request whose TSIG failed (RFC 8945 §5.2): NOTAUTH (FORMERR for a
 * malformed record) carrying the TSIG error; unsigned for BADKEY/BADSIG, signed with
 * the server's time in Other Data for BADTIME.
 */
export function tsigErrorReply(
  request: Buffer,
  query: Query,
  verified: TsigVerified & { ok: false },
  rcode: number = verified.error === 'FORMERR' ? Rcode.FORMERR : Rcode.NOTAUTH,
  nowSec: number = nowSeconds(),
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(request.readUInt16BE(0), 0);
  const flags = 0x8000 | (((request[2] as number) & 0x79) << 8) | (rcode & 0x0f);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  const msg = Buffer.concat([header, query.question]);
  const rec = verified.record;
  if (verified.error === 'FORMERR' || !rec) return msg;
  if (verified.error === 'BADTIME' && verified.key) {
    return signReply(msg, {
      key: verified.key,
      requestMac: verified.mac,
      error: TsigError.BADTIME,
      timeSigned: rec.timeSigned,
      other: u48(nowSec),
      fudge: rec.fudge,
    });
  }
  // BADKEY / BADSIG: an unsigned TSIG echoing the key and algorithm the client used.
  const error = verified.error === 'BADKEY' ? TsigError.BADKEY : TsigError.BADSIG;
  const rdata = Buffer.concat([
    encodeName(rec.algorithm),
    u48(rec.timeSigned),
    u16(rec.fudge),
    u16(0),
    u16(request.readUInt16BE(0)),
    u16(error),
    u16(0),
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(RRType.TSIG, 0);
  head.writeUInt16BE(RRClass.ANY, 2);
  head.writeUInt16BE(rdata.length, 8);
  return appendRecord(msg, Buffer.concat([encodeName(rec.keyName), head, rdata]));
}
