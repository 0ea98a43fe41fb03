// Uncompressed wire form of names (RFC 1035 §3.1), used for rdata, encoded once before
// any answer is written. Compression of owner names happens in the response encoder.

export function encodeName(name: string): Buffer {
  if (name === '') return Buffer.from([0]);
  const labels = name.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad label in "${name}"`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new Error(`name "${name}" exceeds 255 octets`);
  return out;
}

/** Reads an uncompressed name; returns the name (lower-case) and the offset after it. */
export function decodeName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  for (;;) {
    const len = buf[pos];
    if (len === undefined) throw new Error('name runs past the end of the data');
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: pos + 1 };
    if (len > 63) throw new Error('compressed or extended label where none is allowed');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
    if (pos > buf.length) throw new Error('name runs past the end of the data');
  }
}

/**
 * Reads a possibly compressed name (RFC 1035 §4.1.4) from a whole message: lower-case
 * name and the offset just past it where it is written. Throws on a malformed name.
 */
export function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    const len = msg[pos];
    if (len === undefined) throw new Error('name runs past the end');
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: end < 0 ? pos + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      const lo = msg[pos + 1];
      if (lo === undefined) throw new Error('truncated pointer');
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | lo;
      continue;
    }
    if (len > 63) throw new Error('bad label');
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('name loops');
}
