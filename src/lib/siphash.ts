// SipHash-2-4 (Aumasson & Bernstein, 2012) with a 64-bit output: the keyed hash behind
// RFC 9018 server cookies. Each 64-bit lane is kept as two unsigned 32-bit halves in
// local variables, so the rounds run on small integers (BigInt allocates on every step).

/** Bytes in a SipHash key. */
export const SIPHASH_KEY_BYTES = 16;

/** Little-endian 32-bit word at `i`, the bytes at or past `end` read as zero. */
function word(b: Uint8Array, i: number, end: number): number {
  return (
    ((i < end ? (b[i] as number) : 0) |
      (i + 1 < end ? (b[i + 1] as number) << 8 : 0) |
      (i + 2 < end ? (b[i + 2] as number) << 16 : 0) |
      (i + 3 < end ? (b[i + 3] as number) << 24 : 0)) >>>
    0
  );
}

/**
 * SipHash-2-4 of `msg` under the 16-byte `key`, written as its 8 output bytes in
 * little-endian order (the byte order of the reference implementation and of the hash
 * field in RFC 9018 server cookies) into `out` at `offset`. Returns `out`.
 */
export function siphash24Into(
  key: Uint8Array,
  msg: Uint8Array,
  out: Uint8Array,
  offset = 0,
): Uint8Array {
  if (key.length !== SIPHASH_KEY_BYTES) throw new RangeError('a SipHash key is 16 bytes');
  const k0l = word(key, 0, 16);
  const k0h = word(key, 4, 16);
  const k1l = word(key, 8, 16);
  const k1h = word(key, 12, 16);
  // The initialisation constants spell "somepseudorandomlygeneratedbytes".
  let v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0;
  let s: number;
  let t: number;
  const len = msg.length;
  const whole = len - (len % 8);
  // Two SipRounds per 8-byte block (c = 2), then four (d = 4) after v2 ^= 0xff: the
  // last pass of the outer loop is the finalisation.
  for (let i = 0; i <= whole + 8; i += 8) {
    let ml = 0;
    let mh = 0;
    let rounds = 2;
    if (i < whole) {
      ml =
        ((msg[i] as number) |
          ((msg[i + 1] as number) << 8) |
          ((msg[i + 2] as number) << 16) |
          ((msg[i + 3] as number) << 24)) >>>
        0;
      mh =
        ((msg[i + 4] as number) |
          ((msg[i + 5] as number) << 8) |
          ((msg[i + 6] as number) << 16) |
          ((msg[i + 7] as number) << 24)) >>>
        0;
    } else if (i === whole) {
      // The last block: the remaining bytes, and the length mod 256 in its top byte.
      ml = word(msg, i, len);
      mh = (word(msg, i + 4, len) | ((len & 0xff) << 24)) >>> 0;
    } else {
      v2l = (v2l ^ 0xff) >>> 0;
      rounds = 4;
    }
    v3l = (v3l ^ ml) >>> 0;
    v3h = (v3h ^ mh) >>> 0;
    for (let r = 0; r < rounds; r++) {
      // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
      s = v0l + v1l;
      v0h = (v0h + v1h + (s > 0xffffffff ? 1 : 0)) >>> 0;
      v0l = s >>> 0;
      t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      v1l = (((v1l << 13) | (v1h >>> 19)) ^ v0l) >>> 0;
      v1h = (t ^ v0h) >>> 0;
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
      s = v2l + v3l;
      v2h = (v2h + v3h + (s > 0xffffffff ? 1 : 0)) >>> 0;
      v2l = s >>> 0;
      t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      v3l = (((v3l << 16) | (v3h >>> 16)) ^ v2l) >>> 0;
      v3h = (t ^ v2h) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
      s = v0l + v3l;
      v0h = (v0h + v3h + (s > 0xffffffff ? 1 : 0)) >>> 0;
      v0l = s >>> 0;
      t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      v3l = (((v3l << 21) | (v3h >>> 11)) ^ v0l) >>> 0;
      v3h = (t ^ v0h) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
      s = v2l + v1l;
      v2h = (v2h + v1h + (s > 0xffffffff ? 1 : 0)) >>> 0;
      v2l = s >>> 0;
      t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      v1l = (((v1l << 17) | (v1h >>> 15)) ^ v2l) >>> 0;
      v1h = (t ^ v2h) >>> 0;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    v0l = (v0l ^ ml) >>> 0;
    v0h = (v0h ^ mh) >>> 0;
  }
  const lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  const hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  out[offset] = lo & 0xff;
  out[offset + 1] = (lo >>> 8) & 0xff;
  out[offset + 2] = (lo >>> 16) & 0xff;
  out[offset + 3] = lo >>> 24;
  out[offset + 4] = hi & 0xff;
  out[offset + 5] = (hi >>> 8) & 0xff;
  out[offset + 6] = (hi >>> 16) & 0xff;
  out[offset + 7] = hi >>> 24;
  return out;
}

/** SipHash-2-4 of `msg` under `key`: its 8 output bytes (little-endian) in a new Buffer. */
export function siphash24(key: Uint8Array, msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8);
  siphash24Into(key, msg, out, 0);
  return out;
}
