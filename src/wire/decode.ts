// Decodes a request once into a Query (STYLE: one query, one context). Strict where
// RFC 1035/6891/7871 say a message is malformed, so the caller can answer FORMERR; no
// later stage parses the packet again.
import { EdnsOption, RRType } from './constants.js';
import { COOKIE_OPTION, cookieLengthAllowed } from './cookie.js';

export type Transport = 'udp' | 'tcp';

export interface ClientSubnet {
  /** 1 = IPv4, 2 = IPv6 (IANA address family numbers). */
  readonly family: 1 | 2;
  readonly sourcePrefix: number;
  readonly scopePrefix: number;
  /** The address zero-padded to its full length (4 or 16 octets). */
  readonly address: Buffer;
}

export interface Edns {
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  readonly nsidRequested: boolean;
  readonly clientSubnet: ClientSubnet | undefined;
  /** The COOKIE option's data (RFC 7873 §4): a client cookie and maybe a server cookie. */
  readonly cookie: Buffer | undefined;
}

export interface Query {
  readonly id: number;
  readonly opcode: number;
  readonly recursionDesired: boolean;
  readonly checkingDisabled: boolean;
  /** Lower-case, no trailing dot; non-printable octets appear as \DDD. */
  readonly qname: string;
  /** The question exactly as asked (name, type, class): echoed verbatim, keeping 0x20 case. */
  readonly question: Buffer;
  readonly qtype: number;
  readonly qclass: number;
  readonly edns: Edns | undefined;
  readonly transport: Transport;
  readonly clientAddress: string;
  readonly clientPort: number;
  /** Offset of the TSIG record (RFC 8945 §5.1: always the last one) when the request is signed. */
  readonly tsigOffset: number | undefined;
}

export type DecodeResult =
  | { readonly ok: true; readonly query: Query }
  /** `respond` is false when the packet must be dropped (too short, or a response). */
  | {
      readonly ok: false;
      readonly respond: boolean;
      readonly id: number;
      readonly opcode: number;
      readonly flags: number;
      readonly question: Buffer | undefined;
      readonly reason: string;
      /** FORMERR, or NOTIMP for an opcode this server does not implement. */
      readonly rcode: 1 | 4;
    };

const HEADER = 12;

class Malformed extends Error {}

/** Reads a (possibly compressed) name, returning the offset just past it in the message. */
function skipName(msg: Buffer, offset: number): number {
  let pos = offset;
  for (let hops = 0; hops < 128; hops++) {
    const len = msg[pos];
    if (len === undefined) throw new Malformed('name runs past the end of the message');
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 2 > msg.length) throw new Malformed('truncated compression pointer');
      return pos + 2;
    }
    if (len > 63) throw new Malformed('reserved label type');
    pos += 1 + len;
  }
  throw new Malformed('name has too many labels');
}

/** The question name's text is written here first, then read as one string. */
const nameScratch = Buffer.allocUnsafe(255);

/**
 * The question name, lower-cased, labels joined by dots; an octet that is a dot, a
 * backslash or not printable appears as \DDD. A name without such octets (all but a
 * hostile few) costs one string: its text is written to a scratch buffer and read once
 * (building it a character at a time made a string per character, the largest allocation
 * of a query's decode).
 */
function readQuestionName(msg: Buffer): { qname: string; end: number } {
  let pos = HEADER;
  let n = 0;
  let wireLength = 0;
  let escaped = false;
  for (;;) {
    const len = msg[pos];
    if (len === undefined) throw new Malformed('question name runs past the end of the message');
    if (len === 0) {
      pos++;
      break;
    }
    // A pointer in the question could only point into the header: malformed.
    if (len > 63) throw new Malformed('compression pointer or bad label in the question');
    if (pos + 1 + len > msg.length) throw new Malformed('question label runs past the end');
    wireLength += len + 1;
    if (wireLength > 254) throw new Malformed('question name exceeds 255 octets');
    if (n !== 0) nameScratch[n++] = 0x2e;
    for (let i = pos + 1; i <= pos + len; i++) {
      let c = msg[i] as number;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      else if (c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e) escaped = true;
      nameScratch[n++] = c;
    }
    pos += 1 + len;
  }
  return {
    qname: escaped ? escapedName(msg, pos) : nameScratch.toString('latin1', 0, n),
    end: pos,
  };
}

/** readQuestionName's text for a name (already checked, ending at `end`) with octets to escape. */
function escapedName(msg: Buffer, end: number): string {
  let text = '';
  for (let pos = HEADER; pos < end - 1;) {
    const len = msg[pos] as number;
    if (text) text += '.';
    for (let i = pos + 1; i <= pos + len; i++) {
      let c = msg[i] as number;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e)
        text += '\\' + String(c).padStart(3, '0');
      else text += String.fromCharCode(c);
    }
    pos += 1 + len;
  }
  return text;
}

/**
 * Why the ECS option data at [start, start + len) of `buf` is malformed (RFC 7871 §6:
 * FAMILY(2) SOURCE(1) SCOPE(1) ADDRESS(ceil(source/8)), scope 0 in a query, excess bits
 * zero), or undefined when it is well formed. Allocates only for the answer.
 */
export function clientSubnetProblem(buf: Buffer, start: number, len: number): string | undefined {
  if (len < 4) return 'ECS option shorter than 4 octets';
  const family = buf.readUInt16BE(start);
  if (family !== 1 && family !== 2) return `ECS family ${family} is not IPv4 or IPv6`;
  const source = buf[start + 2] as number;
  if (source > (family === 1 ? 32 : 128)) return 'ECS source prefix longer than the address';
  if (buf[start + 3] !== 0) return 'ECS scope prefix must be 0 in a query';
  const bytes = Math.ceil(source / 8);
  if (len - 4 !== bytes) return 'ECS address length does not match its prefix';
  const extra = source % 8;
  if (extra && ((buf[start + 4 + bytes - 1] as number) & (0xff >> extra)) !== 0)
    return 'ECS address has bits set beyond its source prefix';
  return undefined;
}

function parseClientSubnet(data: Buffer): ClientSubnet {
  const problem = clientSubnetProblem(data, 0, data.length);
  if (problem) throw new Malformed(problem);
  const family = data.readUInt16BE(0) === 1 ? 1 : 2;
  const address = Buffer.alloc(family === 1 ? 4 : 16);
  data.copy(address, 0, 4);
  return { family, sourcePrefix: data[2] as number, scopePrefix: 0, address };
}

function parseOpt(
  msg: Buffer,
  rdataStart: number,
  rdlength: number,
  cls: number,
  ttl: number,
): Edns {
  let nsid = false;
  let ecs: ClientSubnet | undefined;
  let cookie: Buffer | undefined;
  const end = rdataStart + rdlength;
  for (let p = rdataStart; p < end;) {
    if (p + 4 > end) throw new Malformed('truncated EDNS option header');
    const code = msg.readUInt16BE(p);
    const len = msg.readUInt16BE(p + 2);
    if (p + 4 + len > end) throw new Malformed('EDNS option runs past the OPT record');
    const data = msg.subarray(p + 4, p + 4 + len);
    if (code === EdnsOption.NSID) nsid = true;
    else if (code === EdnsOption.ECS) {
      if (ecs) throw new Malformed('more than one ECS option');
      ecs = parseClientSubnet(data);
    } else if (code === COOKIE_OPTION) {
      // RFC 7873 §5.2.2: a length §4 does not allow is FORMERR; so are two COOKIE options.
      if (cookie) throw new Malformed('more than one COOKIE option');
      if (!cookieLengthAllowed(len)) throw new Malformed(`COOKIE option of ${len} octets`);
      cookie = data;
    }
    p += 4 + len;
  }
  return {
    // RFC 6891 §6.2.5: values below 512 are treated as 512.
    udpSize: Math.max(cls, 512),
    version: (ttl >>> 16) & 0xff,
    dnssecOk: (ttl & 0x8000) !== 0,
    nsidRequested: nsid,
    clientSubnet: ecs,
    cookie,
  };
}

export function decodeQuery(
  msg: Buffer,
  transport: Transport,
  clientAddress: string,
  clientPort: number,
): DecodeResult {
  const fail = (
    respond: boolean,
    reason: string,
    question?: Buffer,
    rcode: 1 | 4 = 1,
  ): DecodeResult => ({
    ok: false,
    respond,
    id: msg.length >= 2 ? msg.readUInt16BE(0) : 0,
    opcode: msg.length >= 3 ? ((msg[2] as number) >> 3) & 0x0f : 0,
    flags: msg.length >= 4 ? msg.readUInt16BE(2) : 0,
    question,
    reason,
    rcode,
  });
  if (msg.length < HEADER) return fail(false, 'shorter than a DNS header');
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return fail(false, 'QR is set: a response, not a query');
  const qdcount = msg.readUInt16BE(4);
  const opcode = (flags >> 11) & 0x0f;
  // RFC 1035 §4.1.1: the opcode alone says a request is not implemented, with or without a
  // question (QUERY, NOTIFY and UPDATE are; NOTIFY and UPDATE need their zone's question).
  if (qdcount !== 1 && opcode !== 0 && opcode !== 4 && opcode !== 5)
    return fail(true, `opcode ${opcode} is not implemented`, undefined, 4);
  if (qdcount !== 1) return fail(true, `QDCOUNT is ${qdcount}, expected 1`);

  let question: Buffer | undefined;
  try {
    const { qname, end: nameEnd } = readQuestionName(msg);
    if (nameEnd + 4 > msg.length) throw new Malformed('question has no type and class');
    const qtype = msg.readUInt16BE(nameEnd);
    const qclass = msg.readUInt16BE(nameEnd + 2);
    question = msg.subarray(HEADER, nameEnd + 4);

    let pos = nameEnd + 4;
    const rrCount = msg.readUInt16BE(6) + msg.readUInt16BE(8);
    const arcount = msg.readUInt16BE(10);
    let edns: Edns | undefined;
    let tsigOffset: number | undefined;
    for (let i = 0; i < rrCount + arcount; i++) {
      const nameStart = pos;
      pos = skipName(msg, pos);
      if (pos + 10 > msg.length) throw new Malformed('record header runs past the end');
      const type = msg.readUInt16BE(pos);
      const cls = msg.readUInt16BE(pos + 2);
      const ttl = msg.readUInt32BE(pos + 4);
      const rdlength = msg.readUInt16BE(pos + 8);
      const rdataStart = pos + 10;
      pos = rdataStart + rdlength;
      if (pos > msg.length) throw new Malformed('rdata runs past the end');
      if (type === RRType.OPT) {
        // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
        if (i < rrCount) throw new Malformed('OPT outside the additional section');
        if (edns) throw new Malformed('more than one OPT record');
        if (msg[nameStart] !== 0) throw new Malformed('OPT owner is not the root');
        edns = parseOpt(msg, rdataStart, rdlength, cls, ttl);
      } else if (type === RRType.TSIG) {
        // RFC 8945 §5.1: one TSIG, the last record of the additional section.
        if (i !== rrCount + arcount - 1 || i < rrCount)
          throw new Malformed('TSIG is not the last record of the additional section');
        tsigOffset = nameStart;
      }
    }
    return {
      ok: true,
      query: {
        id: msg.readUInt16BE(0),
        opcode: (flags >> 11) & 0x0f,
        recursionDesired: (flags & 0x0100) !== 0,
        checkingDisabled: (flags & 0x0010) !== 0,
        qname,
        question,
        qtype,
        qclass,
        edns,
        transport,
        clientAddress,
        clientPort,
        tsigOffset,
      },
    };
  } catch (err) {
    if (err instanceof Malformed) return fail(true, err.message, question);
    throw err;
  }
}
