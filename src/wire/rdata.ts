// Rdata codecs: presentation text (RFC 1035 §5.1, RFC 3597 for unknown types) to wire
// bytes and back. Names inside rdata are stored uncompressed, which RFC 3597 §4 allows
// for every type.
import { RRType, typeName } from './constants.js';
import { decodeName, encodeName } from './name.js';
import { bytesToIPv4, bytesToIPv6, ipv4ToBytes, ipv6ToBytes } from '../lib/ip.js';
import { fqdn, nameProblem } from '../lib/dnsname.js';

/** Resolves a possibly relative name token against an origin. */
export type NameResolver = (token: string) => string;

interface RdataCodec {
  parse(tokens: string[], resolve: NameResolver): Buffer;
  format(rdata: Buffer): string;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function int(token: string | undefined, max: number, what: string): number {
  if (token === undefined || !/^\d+$/.test(token)) throw new Error(`${what} must be a number`);
  const n = Number(token);
  if (n > max) throw new Error(`${what} must be at most ${max}`);
  return n;
}
function arity(tokens: string[], n: number, type: string): void {
  if (tokens.length !== n) {
    throw new Error(`${type} takes ${n} field${n === 1 ? '' : 's'}, got ${tokens.length}`);
  }
}
function hostName(token: string | undefined, resolve: NameResolver, what: string): Buffer {
  if (token === undefined) throw new Error(`${what} is missing`);
  const name = resolve(token);
  if (name !== '') {
    const problem = nameProblem(name);
    if (problem) throw new Error(`${what} "${token}" ${problem}`);
  }
  return encodeName(name);
}

/** TXT rdata holding `text` as UTF-8, split into 255-octet character-strings. */
export function txtRdata(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let i = 0;
  do {
    const part = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([part.length]), part);
    i += 255;
  } while (i < bytes.length);
  return Buffer.concat(parts);
}

/** TXT-style character-strings: quoted with \" and \DDD escapes, or bare words. */
export function parseCharacterString(token: string): Buffer {
  const inner =
    token.startsWith('"') && token.endsWith('"') && token.length >= 2 ? token.slice(1, -1) : token;
  const bytes: number[] = [];
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i] as string;
    if (c === '\\') {
      const digits = /^\d{3}/.exec(inner.slice(i + 1));
      if (digits) {
        bytes.push(Number(digits[0]) & 0xff);
        i += 3;
      } else if (i + 1 < inner.length) {
        bytes.push(inner.charCodeAt(++i) & 0xff);
      }
    } else {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  if (bytes.length > 255) throw new Error('a character-string is at most 255 octets');
  return Buffer.from(bytes);
}

export function formatCharacterString(b: Buffer): string {
  let out = '"';
  for (const byte of b) {
    if (byte === 0x22 || byte === 0x5c) out += '\\' + String.fromCharCode(byte);
    else if (byte < 0x20 || byte > 0x7e) out += '\\' + String(byte).padStart(3, '0');
    else out += String.fromCharCode(byte);
  }
  return out + '"';
}

function readStrings(rdata: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < rdata.length;) {
    const len = rdata[p] as number;
    out.push(rdata.subarray(p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}

const address4: RdataCodec = {
  parse: (t) => (arity(t, 1, 'A'), ipv4ToBytes(t[0] as string)),
  format: (r) => bytesToIPv4(r),
};
const address6: RdataCodec = {
  parse: (t) => (arity(t, 1, 'AAAA'), ipv6ToBytes(t[0] as string)),
  format: (r) => bytesToIPv6(r),
};
const singleName = (type: string): RdataCodec => ({
  parse: (t, resolve) => (arity(t, 1, type), hostName(t[0], resolve, `${type} target`)),
  format: (r) => fqdn(decodeName(r, 0).name),
});

const CODECS = new Map<number, RdataCodec>([
  [RRType.A, address4],
  [RRType.AAAA, address6],
  [RRType.NS, singleName('NS')],
  [RRType.CNAME, singleName('CNAME')],
  [RRType.PTR, singleName('PTR')],
  [
    RRType.MX,
    {
      parse(t, resolve) {
        arity(t, 2, 'MX');
        return Buffer.concat([
          u16(int(t[0], 65535, 'MX preference')),
          hostName(t[1], resolve, 'MX exchange'),
        ]);
      },
      format: (r) => `${r.readUInt16BE(0)} ${fqdn(decodeName(r, 2).name)}`,
    },
  ],
  [
    RRType.SRV,
    {
      parse(t, resolve) {
        arity(t, 4, 'SRV');
        return Buffer.concat([
          u16(int(t[0], 65535, 'SRV priority')),
          u16(int(t[1], 65535, 'SRV weight')),
          u16(int(t[2], 65535, 'SRV port')),
          hostName(t[3], resolve, 'SRV target'),
        ]);
      },
      format: (r) =>
        `${r.readUInt16BE(0)} ${r.readUInt16BE(2)} ${r.readUInt16BE(4)} ${fqdn(decodeName(r, 6).name)}`,
    },
  ],
  [
    RRType.TXT,
    {
      parse(t) {
        if (t.length === 0) throw new Error('TXT needs at least one string');
        return Buffer.concat(
          t.map((s) => {
            const b = parseCharacterString(s);
            return Buffer.concat([Buffer.from([b.length]), b]);
          }),
        );
      },
      format: (r) => readStrings(r).map(formatCharacterString).join(' '),
    },
  ],
  [
    RRType.CAA,
    {
      parse(t) {
        arity(t, 3, 'CAA');
        const tag = t[1] as string;
        if (!/^[a-zA-Z0-9]{1,15}$/.test(tag))
          throw new Error(`CAA tag "${tag}" is not alphanumeric`);
        const tagBytes = Buffer.from(tag.toLowerCase(), 'ascii');
        return Buffer.concat([
          Buffer.from([int(t[0], 255, 'CAA flags'), tagBytes.length]),
          tagBytes,
          parseCharacterString(t[2] as string),
        ]);
      },
      format(r) {
        const tagLen = r[1] as number;
        return `${r[0]} ${r.toString('ascii', 2, 2 + tagLen)} ${formatCharacterString(r.subarray(2 + tagLen))}`;
      },
    },
  ],
  [
    RRType.SOA,
    {
      parse(t, resolve) {
        arity(t, 7, 'SOA');
        return Buffer.concat([
          hostName(t[0], resolve, 'SOA mname'),
          hostName(t[1], resolve, 'SOA rname'),
          ...t.slice(2).map((v, i) => u32(int(v, 0xffffffff, `SOA field ${i + 3}`))),
        ]);
      },
      format(r) {
        const m = decodeName(r, 0);
        const rn = decodeName(r, m.end);
        const nums = [0, 1, 2, 3, 4].map((i) => r.readUInt32BE(rn.end + i * 4));
        return `${fqdn(m.name)} ${fqdn(rn.name)} ${nums.join(' ')}`;
      },
    },
  ],
]);

/** Types that may not appear in static zone data (meta types, or owned by the server). */
const FORBIDDEN = new Set<number>([
  RRType.OPT,
  RRType.TSIG,
  RRType.IXFR,
  RRType.AXFR,
  RRType.MAILA,
  RRType.MAILB,
  RRType.ANY,
]);

export function parseRdata(type: number, tokens: string[], resolve: NameResolver): Buffer {
  if (FORBIDDEN.has(type)) throw new Error(`${typeName(type)} cannot be a zone record`);
  if (tokens[0] === '\\#') {
    // RFC 3597 §5 generic form: \# <length> <hex…>
    const len = int(tokens[1], 65535, 'generic rdata length');
    const hex = tokens.slice(2).join('');
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== len * 2) {
      throw new Error('generic rdata hex does not match its length');
    }
    return Buffer.from(hex, 'hex');
  }
  const codec = CODECS.get(type);
  if (!codec) throw new Error(`${typeName(type)} needs the generic \\# form`);
  return codec.parse(tokens, resolve);
}

export function formatRdata(type: number, rdata: Buffer): string {
  const codec = CODECS.get(type);
  if (!codec) return `\\# ${rdata.length}${rdata.length ? ' ' + rdata.toString('hex') : ''}`;
  return codec.format(rdata);
}
