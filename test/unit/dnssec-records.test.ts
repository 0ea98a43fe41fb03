import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import {
  Algorithm,
  generatePrivateKey,
  loadSigningKey,
  type AlgorithmNumber,
} from '../../src/dnssec/algorithm.js';
import {
  bitmapTypes,
  canonicalRRset,
  CSK_FLAGS,
  dnskeyRdata,
  dsRdata,
  keyTag,
  labelCount,
  nameWire,
  rrsigRdata,
  typeBitmap,
} from '../../src/dnssec/records.js';
import { compareCanonical, successorWire, wireLabels } from '../../src/dnssec/successor.js';
import { SignatureCache } from '../../src/dnssec/signature-cache.js';
import { ZoneSigner } from '../../src/dnssec/signer.js';
import { keySetAt, newStoredKey, apexKeyRecords } from '../../src/dnssec/keys.js';
import { RRType } from '../../src/wire/constants.js';

test('key tag and DS digest match RFC 6605 §6.1 (example.net, algorithm 13)', () => {
  const pub = Buffer.from(
    'GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
    'base64',
  );
  const dnskey = dnskeyRdata(CSK_FLAGS, 13, pub);
  assert.equal(keyTag(dnskey), 55648);
  const ds = dsRdata('example.net', dnskey);
  assert.equal(ds.readUInt16BE(0), 55648);
  assert.equal(ds[2], 13);
  assert.equal(ds[3], 2);
  assert.equal(
    ds.subarray(4).toString('hex'),
    'b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17',
  );
});

test('type bitmaps: RFC 4034 §4.3 example, and NXNAME (128) in window 0', () => {
  // A MX RRSIG NSEC TYPE1234 → 0x00 0x06 0x40 0x01 0x00 0x00 0x00 0x03 0x04 0x1b 0x00...0x20
  const b = typeBitmap([1, 15, 46, 47, 1234]);
  assert.equal(b.toString('hex'), '0006400100000003' + '041b' + '00'.repeat(26) + '20');
  assert.deepEqual(bitmapTypes(b), [1, 15, 46, 47, 1234]);
  const nx = typeBitmap([46, 47, 128]);
  assert.deepEqual(bitmapTypes(nx), [46, 47, 128]);
  assert.equal(nx[1], 17);
  assert.equal(nx[2 + 16], 0x80);
});

test('names: canonical wire is lower-cased, labels count skips a leading *', () => {
  assert.deepEqual(
    nameWire('WwW.Example.NET'),
    Buffer.from('\x03www\x07example\x03net\x00', 'latin1'),
  );
  assert.equal(labelCount('*.a.example.net'), 3);
  assert.equal(labelCount('a.example.net'), 3);
  assert.equal(labelCount(''), 0);
});

for (const alg of [Algorithm.ECDSAP256SHA256, Algorithm.ED25519] as AlgorithmNumber[]) {
  test(`RRSIG (algorithm ${alg}) verifies over the canonical RRset, whatever the record order`, () => {
    const key = loadSigningKey(alg, generatePrivateKey(alg));
    assert.equal(key.publicKey.length, alg === 13 ? 64 : 32);
    const dnskey = dnskeyRdata(CSK_FLAGS, alg, key.publicKey);
    const fields = {
      typeCovered: 1,
      algorithm: alg,
      labels: 3,
      originalTtl: 60,
      expiration: 2_000_000_000,
      inception: 1_900_000_000,
      keyTag: keyTag(dnskey),
      signer: 'example.net',
    };
    const rdatas = [Buffer.from([192, 0, 2, 2]), Buffer.from([192, 0, 2, 1])];
    const rrsig = rrsigRdata(key, fields, 'www.example.net', rdatas);
    const signerEnd = 18 + nameWire('example.net').length;
    const signature = rrsig.subarray(signerEnd);
    const data = Buffer.concat([
      rrsig.subarray(0, signerEnd),
      canonicalRRset(nameWire('www.example.net'), 1, 60, [...rdatas].reverse()),
    ]);
    const pub = createPublicKey(key.privateKey);
    const ok =
      alg === 13
        ? verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, signature)
        : verify(null, data, pub, signature);
    assert.ok(ok);
    // A changed record fails.
    const bad = Buffer.concat([
      rrsig.subarray(0, signerEnd),
      canonicalRRset(nameWire('www.example.net'), 1, 60, [Buffer.from([192, 0, 2, 3])]),
    ]);
    assert.ok(
      !(alg === 13
        ? verify('sha256', bad, { key: pub, dsaEncoding: 'ieee-p1363' }, signature)
        : verify(null, bad, pub, signature)),
    );
  });
}

test('canonical RRset lower-cases names inside CNAME/MX rdata and drops duplicates', () => {
  const upper = Buffer.from('\x03WWW\x07EXAMPLE\x03net\x00', 'latin1');
  const a = canonicalRRset(nameWire('x.example.net'), 5, 300, [upper, upper]);
  const b = canonicalRRset(nameWire('x.example.net'), 5, 300, [nameWire('www.example.net')]);
  assert.deepEqual(a, b);
});

test('signature cache: one signature per content, reused; denials apart and bounded', () => {
  const now = 1_800_000_000;
  const stored = newStoredKey(13, now * 1000);
  const set = keySetAt([stored], now * 1000);
  const cache = new SignatureCache(1000);
  const signer = new ZoneSigner(
    'example.net',
    set.signing,
    { validitySec: 14 * 86400, refreshSec: 7 * 86400, inceptionOffsetSec: 3600, jitterSec: 3600 },
    cache,
  );
  const rd = [Buffer.from([192, 0, 2, 1]), Buffer.from([192, 0, 2, 2])];
  const first = signer.sign('a.example.net', 1, 20, 60, rd, now);
  const again = signer.sign('a.example.net', 1, 30, 60, [...rd].reverse(), now + 100);
  assert.equal(signer.signed, 1);
  assert.deepEqual(first[0]?.rdata, again[0]?.rdata);
  assert.equal(again[0]?.ttl, 30);
  // Near expiry (less than refreshSec left) it is signed afresh.
  signer.sign('a.example.net', 1, 20, 60, rd, now + 8 * 86400);
  assert.equal(signer.signed, 2);
  // A flood of denials fills its own space only.
  for (let i = 0; i < 500; i++)
    signer.sign(`n${i}.example.net`, RRType.NSEC, 60, 60, [Buffer.from([0])], now, true);
  assert.ok(cache.size <= 1000);
  signer.sign('a.example.net', 1, 20, 60, rd, now + 8 * 86400);
  assert.equal(signer.signed, 2 + 500, 'the answer signature survived the denial flood');
  // Apex records: DNSKEY for the published key, CDS and CDNSKEY for the signing one.
  const apex = apexKeyRecords('example.net', set, 3600);
  assert.deepEqual(
    apex.map((r) => r.type),
    [RRType.DNSKEY, RRType.CDS, RRType.CDNSKEY],
  );
});

/** A random label of `len` octets drawn from shapes that stress the successor. */
function randomLabel(len: number): Buffer {
  const pick = Math.random();
  if (pick < 0.2) return Buffer.alloc(len, 0xff);
  if (pick < 0.3) return Buffer.alloc(len, 0x00);
  if (pick < 0.4) return Buffer.alloc(len, 0x40); // '@': next would be 'A'
  const b = randomBytes(len);
  for (let i = 0; i < len; i++)
    if ((b[i] as number) >= 0x41 && (b[i] as number) <= 0x5a) b[i] = (b[i] as number) | 0x20;
  return b;
}

function wireOf(labels: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

test('compact-denial successor: fuzzed over label shapes and lengths up to 255 octets', () => {
  const apex = nameWire('example.net');
  const apexLabels = wireLabels(apex);
  for (let n = 0; n < 20_000; n++) {
    // Build a name below the apex of a random total length, often at or near the maximum.
    const target =
      Math.random() < 0.5
        ? 250 + Math.floor(Math.random() * 6)
        : 13 + Math.floor(Math.random() * 243);
    const labels: Buffer[] = [];
    let length = apex.length;
    while (length < target) {
      const room = target - length - 1;
      if (room < 1) break;
      const len = Math.min(63, room, 1 + Math.floor(Math.random() * 63));
      labels.unshift(randomLabel(len));
      length += 1 + len;
    }
    if (labels.length === 0) continue;
    const name = wireOf([...labels, ...apexLabels]);
    assert.ok(name.length <= 255);
    const next = successorWire(name, apex);
    assert.ok(
      next.length <= 255,
      `successor of a ${name.length}-octet name is ${next.length} octets`,
    );
    for (const l of wireLabels(next)) assert.ok(l.length >= 1 && l.length <= 63);
    const cmp = compareCanonical(next, name);
    if (next.equals(apex)) continue; // wrapped: nothing greater in the zone
    assert.ok(cmp > 0, 'the successor sorts after the name');
    for (const l of wireLabels(next))
      for (const c of l) assert.ok(!(c >= 0x41 && c <= 0x5a), 'no upper-case octet');
    // Immediate: the name with one octet appended to its first label, when that fits,
    // sorts no earlier than the successor.
    if (name.length + 2 <= 255) assert.equal(next.length, name.length + 2);
  }
});

test('successor wraps to the apex when nothing greater fits in the zone', () => {
  const apex = nameWire('example.net');
  const apexLabels = wireLabels(apex);
  // Labels of 0xff at full length up to 255 octets: no greater name exists below the apex.
  const labels: Buffer[] = [];
  let length = apex.length;
  while (length + 64 <= 255) {
    labels.push(Buffer.alloc(63, 0xff));
    length += 64;
  }
  const rest = 255 - length - 1;
  if (rest >= 1) labels.unshift(Buffer.alloc(rest, 0xff));
  const name = wireOf([...labels, ...apexLabels]);
  assert.equal(name.length, 255);
  assert.deepEqual(successorWire(name, apex), apex);
});
