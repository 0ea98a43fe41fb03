// CIDR parsing and prefix bit arithmetic over address bytes (4 or 16 octets).
import { ipFamily, ipv4ToBytes, ipv6ToBytes } from './ip.js';

export interface Cidr {
  readonly family: 4 | 6;
  /** The network address, host bits cleared. */
  readonly bytes: Buffer;
  readonly prefix: number;
}

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is a host route); throws with a reason. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = ipFamily(addr);
  if (!family) throw new Error(`"${addr}" is not an IP address`);
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
    throw new Error(`prefix length "${prefixText}" must be 0–${max}`);
  const prefix = Number(prefixText);
  const bytes = family === 4 ? ipv4ToBytes(addr) : ipv6ToBytes(addr);
  const masked = maskBytes(bytes, prefix);
  if (!masked.equals(bytes)) throw new Error(`${text} has host bits set (network is ${prefix})`);
  return { family, bytes: masked, prefix };
}

/** A copy of `bytes` with every bit after the first `prefix` cleared. */
export function maskBytes(bytes: Buffer, prefix: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = prefix - i * 8;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : (out[i] as number) & (0xff << (8 - keep));
  }
  return out;
}

/** Bit `i` (0 = most significant) of an address. */
export function bitAt(bytes: Buffer, i: number): 0 | 1 {
  return (((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) as 0 | 1;
}

/** A set of CIDRs for access lists: membership of an address given as text. */
export class CidrSet {
  private readonly cidrs: readonly Cidr[];

  /** Throws naming the first bad entry. */
  constructor(texts: readonly string[]) {
    this.cidrs = texts.map((t) => parseCidr(t));
  }

  has(address: string): boolean {
    const plain =
      address.startsWith('::ffff:') && ipFamily(address.slice(7)) === 4
        ? address.slice(7)
        : address;
    const family = ipFamily(plain);
    if (!family) return false;
    const bytes = family === 4 ? ipv4ToBytes(plain) : ipv6ToBytes(plain);
    return this.cidrs.some(
      (c) => c.family === family && maskBytes(bytes, c.prefix).equals(c.bytes),
    );
  }
}
