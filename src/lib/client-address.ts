// A client's address text (as a socket reports it) read into its octets without
// allocating, for the per-query hashes of cookies (RFC 9018 §4.4) and rate limiting.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d, from a dual-stack socket) is its IPv4
// client: the same resolver gets the same cookie and the same bucket on either socket.

/** The value of one hex digit's char code, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Dotted-quad text[from, end) into out[offset..offset+4); false when it is not one. */
function readIPv4(text: string, from: number, end: number, out: Uint8Array, offset: number) {
  let octet = 0;
  let digits = 0;
  let n = 0;
  for (let i = from; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || n === 4) return false;
      out[offset + n++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      octet = octet * 10 + (c - 0x30);
      digits++;
      if (octet > 255) return false;
    } else return false;
  }
  return n === 4;
}

const groups = new Uint16Array(8);

/** RFC 4291 §2.2 text (with an optional %zone) into out[0..16); false when malformed. */
function readIPv6(text: string, out: Uint8Array): boolean {
  let end = text.indexOf('%');
  if (end < 0) end = text.length;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let j = i;
    for (; j < end; j++) {
      const v = hexValue(text.charCodeAt(j));
      if (v < 0) break;
      value = value * 16 + v;
    }
    if (j < end && text.charCodeAt(j) === 0x2e) {
      // An embedded IPv4 address ends the text and fills the last two groups.
      if (n > 6 || !readIPv4(text, i, end, out, 0)) return false;
      groups[n++] = ((out[0] as number) << 8) | (out[1] as number);
      groups[n++] = ((out[2] as number) << 8) | (out[3] as number);
      i = end;
      break;
    }
    if (j === i || j - i > 4 || n === 8) return false;
    groups[n++] = value;
    if (j === end) {
      i = end;
      break;
    }
    if (text.charCodeAt(j) !== 0x3a) return false;
    if (text.charCodeAt(j + 1) === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return false;
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  const split = gap < 0 ? 8 : gap;
  for (let k = 0; k < 8; k++) {
    const g =
      k < split ? (groups[k] as number) : k < split + zeros ? 0 : (groups[k - zeros] as number);
    out[k * 2] = g >>> 8;
    out[k * 2 + 1] = g & 0xff;
  }
  return true;
}

/**
 * Writes the octets of `address` to `out` (at least 16 bytes long) and returns how many:
 * 4 for IPv4 (and IPv4-mapped IPv6), 16 for IPv6, 0 when the text is not an address.
 */
export function clientAddressBytes(address: string, out: Uint8Array): 0 | 4 | 16 {
  if (address.indexOf(':') < 0) return readIPv4(address, 0, address.length, out, 0) ? 4 : 0;
  if (!readIPv6(address, out)) return 0;
  for (let i = 0; i < 10; i++) if (out[i] !== 0) return 16;
  if (out[10] !== 0xff || out[11] !== 0xff) return 16;
  out.copyWithin(0, 12, 16);
  return 4;
}
