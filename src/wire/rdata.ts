// Rdata codecs: presentation text (RFC 1035 §5.1, RFC 3597 for unknown types) to wire
// bytes and back. Names inside rdata are stored uncompressed, which RFC 3597 §4 allows
// for every type.
import { RRType, typeFromName, typeName } from './constants.js';
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

/** An owner name in rdata (NSEC next owner, RRSIG signer): any labels, "*" included. */
function ownerName(token: string | undefined, resolve: NameResolver, what: string): Buffer {
  if (token === undefined) throw new Error(`${what} is missing`);
  try {
    return encodeName(resolve(token));
  } catch (err) {
    throw new Error(`${what} "${token}": ${(err as Error).message}`);
  }
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

/** RRSIG times (RFC 4034 §3.2): YYYYMMDDHHmmSS in UTC, or seconds since the epoch. */
function signatureTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
function parseSignatureTime(token: string | undefined, what: string): number {
  if (token !== undefined && /^\d{14}$/.test(token)) {
    const [y, mo, d, h, mi, sec] = [0, 4, 6, 8, 10, 12].map((i, k) =>
      Number(token.slice(i, k === 0 ? 4 : i + 2)),
    ) as [number, number, number, number, number, number];
    return Math.floor(Date.UTC(y, mo - 1, d, h, mi, sec) / 1000) >>> 0;
  }
  return int(token, 0xffffffff, what);
}

function base64Field(tokens: string[], what: string): Buffer {
  const text = tokens.join('');
  if (text === '' || !/^[A-Za-z0-9+/]+=*$/.test(text)) throw new Error(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

function typeToken(token: string | undefined, what: string): number {
  const type = token === undefined ? undefined : typeFromName(token);
  if (type === undefined) throw new Error(`${what} "${token ?? ''}" is not a type`);
  return type;
}

/** The type bitmap of RFC 4034 §4.1.2 for `types`, windows in order. */
function typeBitmap(types: readonly number[]): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: number[] = [];
  for (let i = 0; i < sorted.length;) {
    const window = (sorted[i] as number) >> 8;
    const bits = new Array<number>(32).fill(0);
    let last = 0;
    for (; i < sorted.length && (sorted[i] as number) >> 8 === window; i++) {
      const low = (sorted[i] as number) & 0xff;
      bits[low >> 3] = (bits[low >> 3] as number) | (0x80 >> (low & 7));
      last = low >> 3;
    }
    parts.push(window, last + 1, ...bits.slice(0, last + 1));
  }
  return Buffer.from(parts);
}

function typeList(bitmap: Buffer): string {
  const types: string[] = [];
  for (let pos = 0; pos + 2 <= bitmap.length;) {
    const window = bitmap[pos] as number;
    const len = bitmap[pos + 1] as number;
    for (let b = 0; b < len; b++) {
      const byte = bitmap[pos + 2 + b] as number;
      for (let bit = 0; bit < 8; bit++)
        if (byte & (0x80 >> bit)) types.push(typeName((window << 8) | (b * 8 + bit)));
    }
    pos += 2 + len;
  }
  return types.join(' ');
}

/** DS and CDS (RFC 4034 §5.3, RFC 7344 §3.1): key tag, algorithm, digest type, hex digest. */
const delegationSigner = (type: string): RdataCodec => ({
  parse(t) {
    if (t.length < 4) throw new Error(`${type} takes key tag, algorithm, digest type and digest`);
    const hex = t.slice(3).join('');
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error(`${type} digest is not hex`);
    return Buffer.concat([
      u16(int(t[0], 65535, `${type} key tag`)),
      Buffer.from([int(t[1], 255, `${type} algorithm`), int(t[2], 255, `${type} digest type`)]),
      Buffer.from(hex, 'hex'),
    ]);
  },
  format: (r) => `${r.readUInt16BE(0)} ${r[2]} ${r[3]} ${r.toString('hex', 4).toUpperCase()}`,
});

/** DNSKEY and CDNSKEY (RFC 4034 §2.2): flags, protocol, algorithm, base64 key. */
const publicKey = (type: string): RdataCodec => ({
  parse(t) {
    if (t.length < 4) throw new Error(`${type} takes flags, protocol, algorithm and key`);
    return Buffer.concat([
      u16(int(t[0], 65535, `${type} flags`)),
      Buffer.from([int(t[1], 255, `${type} protocol`), int(t[2], 255, `${type} algorithm`)]),
      base64Field(t.slice(3), `${type} key`),
    ]);
  },
  format: (r) => `${r.readUInt16BE(0)} ${r[2]} ${r[3]} ${r.toString('base64', 4)}`,
});

/** RRSIG (RFC 4034 §3.2). */
const rrsig: RdataCodec = {
  parse(t, resolve) {
    if (t.length < 9) throw new Error('RRSIG takes 9 fields');
    return Buffer.concat([
      u16(typeToken(t[0], 'RRSIG type covered')),
      Buffer.from([int(t[1], 255, 'RRSIG algorithm'), int(t[2], 255, 'RRSIG labels')]),
      u32(int(t[3], 0xffffffff, 'RRSIG original TTL')),
      u32(parseSignatureTime(t[4], 'RRSIG expiration')),
      u32(parseSignatureTime(t[5], 'RRSIG inception')),
      u16(int(t[6], 65535, 'RRSIG key tag')),
      ownerName(t[7], resolve, 'RRSIG signer'),
      base64Field(t.slice(8), 'RRSIG signature'),
    ]);
  },
  format(r) {
    const signer = decodeName(r, 18);
    return [
      typeName(r.readUInt16BE(0)),
      r[2],
      r[3],
      r.readUInt32BE(4),
      signatureTime(r.readUInt32BE(8)),
      signatureTime(r.readUInt32BE(12)),
      r.readUInt16BE(16),
      fqdn(signer.name),
      r.toString('base64', signer.end),
    ].join(' ');
  },
};

/** NSEC (RFC 4034 §4.2): next owner and the types present. */
const nsec: RdataCodec = {
  parse(t, resolve) {
    if (t.length < 1) throw new Error('NSEC takes a next owner name');
    return Buffer.concat([
      ownerName(t[0], resolve, 'NSEC next owner'),
      typeBitmap(t.slice(1).map((x) => typeToken(x, 'NSEC type'))),
    ]);
  },
  format(r) {
    const next = decodeName(r, 0);
    return `${fqdn(next.name)} ${typeList(r.subarray(next.end))}`.trimEnd();
  },
};

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
  [RRType.DS, delegationSigner('DS')],
  [RRType.CDS, delegationSigner('CDS')],
  [RRType.DNSKEY, publicKey('DNSKEY')],
  [RRType.CDNSKEY, publicKey('CDNSKEY')],
  [RRType.RRSIG, rrsig],
  [RRType.NSEC, nsec],
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
