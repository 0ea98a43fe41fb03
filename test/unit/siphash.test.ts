import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { siphash24, siphash24Into } from '../../src/lib/siphash.js';

// vectors_sip64 of the SipHash reference implementation: key 00..0f, message 00..(n-1)
// for n = 0..63, each output as its 8 little-endian bytes.
const REFERENCE = [
  '310e0edd47db6f72',
  'fd67dc93c539f874',
  '5a4fa9d909806c0d',
  '2d7efbd796666785',
  'b7877127e09427cf',
  '8da699cd64557618',
  'cee3fe586e46c9cb',
  '37d1018bf50002ab',
  '6224939a79f5f593',
  'b0e4a90bdf82009e',
  'f3b9dd94c5bb5d7a',
  'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75',
  '903d84c02756ea14',
  'eef27a8e90ca23f7',
  'e545be4961ca29a1',
  'db9bc2577fcc2a3f',
  '9447be2cf5e99a69',
  '9cd38d96f0b3c14b',
  'bd6179a71dc96dbb',
  '98eea21af25cd6be',
  'c7673b2eb0cbf2d0',
  '883ea3e395675393',
  'c8ce5ccd8c030ca8',
  '94af49f6c650adb8',
  'eab8858ade92e1bc',
  'f315bb5bb835d817',
  'adcf6b0763612e2f',
  'a5c91da7acaa4dde',
  '716595876650a2a6',
  '28ef495c53a387ad',
  '42c341d8fa92d832',
  'ce7cf2722f512771',
  'e37859f94623f3a7',
  '381205bb1ab0e012',
  'ae97a10fd434e015',
  'b4a31508beff4d31',
  '81396229f0907902',
  '4d0cf49ee5d4dcca',
  '5c73336a76d8bf9a',
  'd0a704536ba93e0e',
  '925958fcd6420cad',
  'a915c29bc8067318',
  '952b79f3bc0aa6d4',
  'f21df2e41d4535f9',
  '87577519048f53a9',
  '10a56cf5dfcd9adb',
  'eb75095ccd986cd0',
  '51a9cb9ecba312e6',
  '96afadfc2ce666c7',
  '72fe52975a4364ee',
  '5a1645b276d592a1',
  'b274cb8ebf87870a',
  '6f9bb4203de7b381',
  'eaecb2a30b22a87f',
  '9924a43cc1315724',
  'bd838d3aafbf8db7',
  '0b1a2a3265d51aea',
  '135079a3231ce660',
  '932b2846e4d70666',
  'e1915f5cb1eca46c',
  'f325965ca16d629f',
  '575ff28e60381be5',
  '724506eb4c328a95',
];

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const bytesUpTo = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i));

/** The paper's algorithm written with BigInt, line for line: an independent check. */
function siphashBig(key: Buffer, msg: Buffer): Buffer {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M;
  const k0 = key.readBigUInt64LE(0);
  const k1 = key.readBigUInt64LE(8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & M;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & M;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const padded = Buffer.alloc(Math.floor(msg.length / 8) * 8 + 8);
  msg.copy(padded);
  padded[padded.length - 1] = msg.length & 0xff;
  for (let i = 0; i < padded.length; i += 8) {
    const m = padded.readBigUInt64LE(i);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(v0 ^ v1 ^ v2 ^ v3);
  return out;
}

describe('SipHash-2-4', () => {
  it('gives the 64 reference vectors (key 00..0f, message 00..n-1)', () => {
    assert.equal(REFERENCE.length, 64);
    REFERENCE.forEach((want, n) => {
      assert.equal(siphash24(KEY, bytesUpTo(n)).toString('hex'), want, `length ${n}`);
    });
  });

  it('agrees with a BigInt transcription of the paper on random keys and lengths', () => {
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(16);
      const msg = randomBytes(i % 80);
      assert.equal(siphash24(key, msg).toString('hex'), siphashBig(key, msg).toString('hex'));
    }
  });

  it('reads unaligned views and writes at an offset without touching the neighbours', () => {
    const backing = Buffer.alloc(64, 0xaa);
    bytesUpTo(63).copy(backing, 1);
    const out = Buffer.alloc(12, 0x55);
    siphash24Into(KEY, backing.subarray(1, 64), out, 2);
    assert.equal(out.subarray(2, 10).toString('hex'), REFERENCE[63]);
    assert.deepEqual([out[0], out[1], out[10], out[11]], [0x55, 0x55, 0x55, 0x55]);
  });

  it('refuses a key that is not 16 bytes', () => {
    assert.throws(() => siphash24(Buffer.alloc(15), Buffer.alloc(0)), RangeError);
  });
});
