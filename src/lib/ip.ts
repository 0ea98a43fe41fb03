// Address parsing and formatting for rdata and client addresses, without the
// per-call allocations of a general IP library.
import { isIPv4, isIPv6 } from 'node:net';

export function ipv4ToBytes(text: string): Buffer {
  if (!isIPv4(text)) throw new Error(`"${text}" is not an IPv4 address`);
  return Buffer.from(text.split('.').map((p) => Number(p)));
}

export function ipv6ToBytes(text: string): Buffer {
  if (!isIPv6(text)) throw new Error(`"${text}" is not an IPv6 address`);
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail4 = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left = '', right] = head.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const l = parse(left);
  const r = right === undefined ? [] : parse(right);
  const groups =
    right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (tail4.length === 4) Buffer.from(tail4).copy(out, 12);
  return out;
}

export function bytesToIPv4(b: Buffer, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/** RFC 5952 canonical text. */
export function bytesToIPv6(b: Buffer, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(offset + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function canonicalIp(text: string): string | undefined {
  if (isIPv4(text)) return bytesToIPv4(ipv4ToBytes(text));
  if (isIPv6(text)) return bytesToIPv6(ipv6ToBytes(text));
  return undefined;
}

export function ipFamily(text: string): 4 | 6 | undefined {
  return isIPv4(text) ? 4 : isIPv6(text) ? 6 : undefined;
}
