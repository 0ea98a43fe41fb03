// The DNSSEC record data Cirrus writes (RFC 4034): DNSKEY and its key tag, DS digests for
// CDS (RFC 7344), NSEC with its type bitmap, RRSIG and the canonical RRset form a
// signature covers (§3.1.8.1, §6). Names are internal text (lower-case, no trailing dot,
// labels as latin1 octets); their wire form here is always uncompressed and lower-cased.
import { createHash } from 'node:crypto';
import { RRClass, RRType } from '../wire/constants.js';
import type { ResourceRecord } from '../wire/record.js';
import { signData, type SigningKey } from './algorithm.js';

/** RFC 9824 §2: the pseudo-type that marks a compact denial NSEC as "name does not exist". */
export const NXNAME = 128;

/** DNSKEY flags of a combined signing key: Zone Key and Secure Entry Point (RFC 4034 §2.1.1). */
export const CSK_FLAGS = 257;

/** Uncompressed, lower-cased wire form of a name in internal text form. */
export function nameWire(name: string): Buffer {
  if (name === '') return Buffer.from([0]);
  const out = Buffer.allocUnsafe(name.length + 2);
  let pos = 0;
  let start = 0;
  for (;;) {
    const dot = name.indexOf('.', start);
    const end = dot < 0 ? name.length : dot;
    const len = end - start;
    if (len === 0 || len > 63) throw new Error(`bad label in "${name}"`);
    out[pos++] = len;
    for (let i = start; i < end; i++) {
      const c = name.charCodeAt(i) & 0xff;
      out[pos++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    if (dot < 0) break;
    start = dot + 1;
  }
  out[pos++] = 0;
  if (pos > 255) throw new Error(`name "${name}" exceeds 255 octets`);
  return out.subarray(0, pos);
}

/** RFC 4034 §3.1.3: labels of the owner, not counting the root or a leading "*". */
export function labelCount(name: string): number {
  if (name === '') return 0;
  let n = 1;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 0x2e) n++;
  return name === '*' || name.startsWith('*.') ? n - 1 : n;
}

export function dnskeyRdata(flags: number, algorithm: number, publicKey: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + publicKey.length);
  out.writeUInt16BE(flags, 0);
  out[2] = 3;
  out[3] = algorithm;
  publicKey.copy(out, 4);
  return out;
}

/** RFC 4034 Appendix B. */
export function keyTag(dnskey: Buffer): number {
  let ac = 0;
  for (let i = 0; i < dnskey.length; i++)
    ac += i & 1 ? (dnskey[i] as number) : (dnskey[i] as number) << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** DS (and CDS) rdata with a SHA-256 digest (digest type 2, RFC 4509). */
export function dsRdata(owner: string, dnskey: Buffer): Buffer {
  const digest = createHash('sha256').update(nameWire(owner)).update(dnskey).digest();
  const out = Buffer.allocUnsafe(4 + digest.length);
  out.writeUInt16BE(keyTag(dnskey), 0);
  out[2] = dnskey[3] as number;
  out[3] = 2;
  digest.copy(out, 4);
  return out;
}

/** DNSKEY rdata in presentation form (RFC 4034 §2.2): "257 3 13 <base64>". */
export function dnskeyText(dnskey: Buffer): string {
  return `${dnskey.readUInt16BE(0)} ${dnskey[2]} ${dnskey[3]} ${dnskey.subarray(4).toString('base64')}`;
}

/** DS rdata in presentation form (RFC 4034 §5.3): "<tag> <alg> <digest type> <HEX>". */
export function dsText(ds: Buffer): string {
  return `${ds.readUInt16BE(0)} ${ds[2]} ${ds[3]} ${ds.subarray(4).toString('hex').toUpperCase()}`;
}

/** The type bitmap of RFC 4034 §4.1.2, windows in order. */
export function typeBitmap(types: Iterable<number>): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const window = (sorted[i] as number) >> 8;
    const bits = new Array<number>(32).fill(0);
    let last = 0;
    while (i < sorted.length && (sorted[i] as number) >> 8 === window) {
      const low = (sorted[i] as number) & 0xff;
      bits[low >> 3] = (bits[low >> 3] as number) | (0x80 >> (low & 7));
      last = low >> 3;
      i++;
    }
    parts.push(window, last + 1, ...bits.slice(0, last + 1));
  }
  return Buffer.from(parts);
}

/** The types a bitmap lists (the inverse of typeBitmap; for tests and the API). */
export function bitmapTypes(bitmap: Buffer): number[] {
  const types: number[] = [];
  let pos = 0;
  while (pos + 2 <= bitmap.length) {
    const window = bitmap[pos] as number;
    const len = bitmap[pos + 1] as number;
    for (let b = 0; b < len; b++) {
      const byte = bitmap[pos + 2 + b] as number;
      for (let bit = 0; bit < 8; bit++)
        if (byte & (0x80 >> bit)) types.push((window << 8) | (b * 8 + bit));
    }
    pos += 2 + len;
  }
  return types;
}

/** NSEC rdata: the next owner (wire, as given: it may hold a \000 label) and the bitmap. */
export function nsecRdata(nextWire: Buffer, types: Iterable<number>): Buffer {
  return Buffer.concat([nextWire, typeBitmap(types)]);
}

/** Types whose rdata holds names lower-cased in canonical form (RFC 4034 §6.2, RFC 6840 §5.1). */
function lowerNamesIn(type: number, rdata: Buffer): Buffer {
  switch (type) {
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case 39: // DNAME
      return lowerNameAt(rdata, 0).out;
    case RRType.MX:
      return lowerNameAt(rdata, 2).out;
    case RRType.SRV:
      return lowerNameAt(rdata, 6).out;
    case RRType.SOA: {
      const first = lowerNameAt(rdata, 0);
      return lowerNameAt(first.out, first.end).out;
    }
    default:
      return rdata;
  }
}

/** `rdata` with the uncompressed name at `offset` lower-cased (a copy only when needed). */
function lowerNameAt(rdata: Buffer, offset: number): { out: Buffer; end: number } {
  let out = rdata;
  let pos = offset;
  for (;;) {
    const len = rdata[pos];
    if (len === undefined || len === 0 || len > 63) return { out, end: pos + 1 };
    for (let i = pos + 1; i <= pos + len && i < rdata.length; i++) {
      const c = rdata[i] as number;
      if (c >= 0x41 && c <= 0x5a) {
        if (out === rdata) out = Buffer.from(rdata);
        out[i] = c | 0x20;
      }
    }
    pos += 1 + len;
  }
}

export interface RrsigFields {
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  /** Seconds since the epoch (RFC 4034 §3.1.5, serial arithmetic past 2106). */
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  readonly signer: string;
}

/** The RRSIG rdata up to the signature: the first part of what is signed (§3.1.8.1). */
function rrsigHead(f: RrsigFields): Buffer {
  const signer = nameWire(f.signer);
  const out = Buffer.allocUnsafe(18 + signer.length);
  out.writeUInt16BE(f.typeCovered, 0);
  out[2] = f.algorithm;
  out[3] = f.labels;
  out.writeUInt32BE(f.originalTtl >>> 0, 4);
  out.writeUInt32BE(f.expiration >>> 0, 8);
  out.writeUInt32BE(f.inception >>> 0, 12);
  out.writeUInt16BE(f.keyTag, 16);
  signer.copy(out, 18);
  return out;
}

/**
 * The canonical RRset (§6.3: rdata sorted as octet strings, duplicates removed), each RR
 * as owner wire, type, class, original TTL, rdata length and canonical rdata.
 */
export function canonicalRRset(
  owner: Buffer,
  type: number,
  originalTtl: number,
  rdatas: readonly Buffer[],
): Buffer {
  const canon = rdatas.map((r) => lowerNamesIn(type, r)).sort(Buffer.compare);
  const parts: Buffer[] = [];
  let prev: Buffer | undefined;
  for (const rd of canon) {
    if (prev && prev.equals(rd)) continue;
    prev = rd;
    const head = Buffer.allocUnsafe(10);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(RRClass.IN, 2);
    head.writeUInt32BE(originalTtl >>> 0, 4);
    head.writeUInt16BE(rd.length, 8);
    parts.push(owner, head, rd);
  }
  return Buffer.concat(parts);
}

/** A whole RRSIG rdata over the RRset `rdatas` of (owner, type). */
export function rrsigRdata(
  key: SigningKey,
  fields: RrsigFields,
  owner: string,
  rdatas: readonly Buffer[],
): Buffer {
  const head = rrsigHead(fields);
  const data = Buffer.concat([
    head,
    canonicalRRset(nameWire(owner), fields.typeCovered, fields.originalTtl, rdatas),
  ]);
  return Buffer.concat([head, signData(key, data)]);
}

/** An RRSIG record covering `covered` (one RRset), with the RRset's TTL. */
export function rrsigRecord(owner: string, ttl: number, rdata: Buffer): ResourceRecord {
  return { name: owner, type: RRType.RRSIG, class: RRClass.IN, ttl, rdata };
}
