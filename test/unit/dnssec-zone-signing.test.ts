// The signed zone a secondary serves (dnssec/zone-signing.ts): the NSEC chain in canonical
// order over authoritative owners only, delegations and glue per RFC 4035 §2.2–2.3, every
// authoritative RRSIG verifiable; transfer signatures carried from one version to the next
// (ZoneSignatures); DNSSEC types in presentation form, read back by the zone parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { records, lines, SOA_TEXT } from '../helpers/records.js';
import { signZone } from '../../src/dnssec/zone-signing.js';
import { ZoneSigner } from '../../src/dnssec/signer.js';
import { ZoneSignatures } from '../../src/dnssec/signature-cache.js';
import { keySetAt, newStoredKey } from '../../src/dnssec/keys.js';
import { canonicalRRset, nameWire } from '../../src/dnssec/records.js';
import { formatRecord, type ResourceRecord } from '../../src/wire/record.js';
import { RRType } from '../../src/wire/constants.js';

const NOW = 1_800_000_000;
const POLICY = {
  validitySec: 14 * 86400,
  refreshSec: 7 * 86400,
  inceptionOffsetSec: 3600,
  jitterSec: 0,
};
const key = keySetAt([newStoredKey(13, 0)], 1).signing;

const ZONE_TEXT = `${SOA_TEXT}
@ 3600 IN NS ns1.example.org.
ns1 3600 IN A 192.0.2.1
www 300 IN A 192.0.2.10
www 300 IN A 192.0.2.11
b.a 300 IN TXT "below an empty non-terminal"
*.wild 300 IN TXT "w"
sub 300 IN NS ns.sub.example.org.
sub 300 IN DS 12345 13 2 ${'ab'.repeat(32)}
ns.sub 300 IN A 192.0.2.53
insecure 300 IN NS ns.example.net.
z 300 IN MX 10 mail.example.net.`;

function signed(cache = new ZoneSignatures(), text = ZONE_TEXT, now = NOW): ResourceRecord[] {
  const signer = new ZoneSigner('example.org', key, POLICY, cache);
  return signZone(
    { zone: 'example.org', records: records(text), nsecTtl: 300, nowSec: now },
    signer,
  );
}

const nsecs = (rs: readonly ResourceRecord[]) =>
  lines(rs.filter((r) => r.type === RRType.NSEC)).map((l) =>
    l.replace(/^(\S+) 300 IN NSEC /, '$1 → '),
  );

test('the NSEC chain: canonical order, wraps to the apex, no glue, no empty non-terminal', () => {
  assert.deepEqual(nsecs(signed()), [
    'example.org. → b.a.example.org. NS SOA RRSIG NSEC',
    'b.a.example.org. → insecure.example.org. TXT RRSIG NSEC',
    'insecure.example.org. → ns1.example.org. NS RRSIG NSEC',
    'ns1.example.org. → sub.example.org. A RRSIG NSEC',
    'sub.example.org. → *.wild.example.org. NS DS RRSIG NSEC',
    '*.wild.example.org. → www.example.org. TXT RRSIG NSEC',
    'www.example.org. → z.example.org. A RRSIG NSEC',
    'z.example.org. → example.org. MX RRSIG NSEC',
  ]);
});

test('RRSIGs: every authoritative RRset, never a delegation NS or glue; each verifies', () => {
  const rs = signed();
  const sigs = rs.filter((r) => r.type === RRType.RRSIG);
  const covered = sigs.map((r) => `${r.name} ${r.rdata.readUInt16BE(0)}`);
  assert.ok(!covered.includes(`sub.example.org ${RRType.NS}`));
  assert.ok(!covered.includes(`insecure.example.org ${RRType.NS}`));
  assert.ok(!covered.some((c) => c.startsWith('ns.sub.')));
  assert.ok(covered.includes(`sub.example.org ${RRType.DS}`));
  assert.ok(covered.includes(`example.org ${RRType.NS}`));
  const sets = new Map<string, ResourceRecord[]>();
  for (const r of rs) {
    if (r.type === RRType.RRSIG) continue;
    const k = `${r.name} ${r.type}`;
    sets.set(k, [...(sets.get(k) ?? []), r]);
  }
  const pub = createPublicKey({
    key: Buffer.concat([
      Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
      Buffer.from([4]),
      key[0]!.key.publicKey,
    ]),
    format: 'der',
    type: 'spki',
  });
  // 8 of the zone's 11 RRsets (not the two delegations' NS, not the glue) and 8 NSECs.
  assert.equal(sigs.length, 8 + 8);
  for (const sig of sigs) {
    const typeCovered = sig.rdata.readUInt16BE(0);
    const set = sets.get(`${sig.name} ${typeCovered}`);
    assert.ok(set, `${sig.name} ${typeCovered}`);
    const signerEnd = 18 + nameWire('example.org').length;
    const data = Buffer.concat([
      sig.rdata.subarray(0, signerEnd),
      canonicalRRset(
        nameWire(sig.name),
        typeCovered,
        sig.rdata.readUInt32BE(4),
        set.map((r) => r.rdata),
      ),
    ]);
    assert.ok(
      verify(
        'sha256',
        data,
        { key: pub, dsaEncoding: 'ieee-p1363' },
        sig.rdata.subarray(signerEnd),
      ),
      `${sig.name} ${typeCovered}`,
    );
    assert.equal(sig.rdata.readUInt32BE(8), NOW + POLICY.validitySec);
    assert.equal(sig.rdata.readUInt32BE(12), NOW - POLICY.inceptionOffsetSec);
  }
  // The wildcard's RRSIG counts labels without the "*" (RFC 4034 §3.1.3).
  const wild = sigs.find((s) => s.name === '*.wild.example.org' && s.rdata.readUInt16BE(0) === 16);
  assert.equal(wild?.rdata[3], 3);
});

test('the next version keeps the signatures of unchanged RRsets and re-signs what changed or came due', () => {
  const v1 = new ZoneSignatures();
  const first = signed(v1);
  v1.seal();
  // A new name between www and z: www's NSEC changes, everything else stays.
  const v2 = new ZoneSignatures(v1);
  const second = signed(v2, ZONE_TEXT + '\nx 300 IN A 192.0.2.99', NOW + 3600);
  v2.seal();
  const before = new Set(lines(first));
  const added = lines(second).filter((l) => !before.has(l));
  const after = new Set(lines(second));
  const removed = lines(first).filter((l) => !after.has(l));
  assert.deepEqual(
    added.map((l) => l.split(' ').slice(0, 5).join(' ')),
    [
      'www.example.org. 300 IN NSEC x.example.org.',
      'www.example.org. 300 IN RRSIG NSEC',
      'x.example.org. 300 IN A 192.0.2.99',
      'x.example.org. 300 IN RRSIG A',
      'x.example.org. 300 IN NSEC z.example.org.',
      'x.example.org. 300 IN RRSIG NSEC',
    ],
  );
  assert.deepEqual(
    removed.map((l) => l.split(' ').slice(0, 5).join(' ')),
    ['www.example.org. 300 IN NSEC z.example.org.', 'www.example.org. 300 IN RRSIG NSEC'],
  );
  // Past the refresh point every signature is made again; the generation after that
  // inherits only from v2 (v1's are gone).
  const v3 = new ZoneSignatures(v2);
  const third = signed(v3, ZONE_TEXT, NOW + POLICY.validitySec - POLICY.refreshSec + 1);
  v3.seal();
  const sigs2 = new Set(lines(second.filter((r) => r.type === RRType.RRSIG)));
  assert.ok(third.filter((r) => r.type === RRType.RRSIG).every((r) => !sigs2.has(lines([r])[0]!)));
  assert.equal(v3.size, third.filter((r) => r.type === RRType.RRSIG).length);
});

test('DNSSEC types in presentation form read back by the zone parser', () => {
  const rs = signed().filter((r) => [RRType.DS, RRType.NSEC, RRType.RRSIG].includes(r.type as 43));
  const text = rs.map(formatRecord).join('\n');
  assert.match(text, /\tRRSIG\tA 13 3 3600 \d{14} \d{14} \d+ example\.org\. \S+==/);
  assert.match(text, /\tDS\t12345 13 2 (AB){32}/);
  const back = records(text.replace(/\t/g, ' '));
  assert.deepEqual(lines(back), lines(rs));
  const keys = records(
    '@ 3600 IN DNSKEY 257 3 13 AQID\n@ 3600 IN CDNSKEY 257 3 13 AQID\n@ 3600 IN CDS 1 13 2 0a0B',
  );
  assert.deepEqual(lines(keys), [
    'example.org. 3600 IN DNSKEY 257 3 13 AQID',
    'example.org. 3600 IN CDNSKEY 257 3 13 AQID',
    'example.org. 3600 IN CDS 1 13 2 0A0B',
  ]);
  assert.throws(() => records('x 300 IN DS 1 13 2 xyz'), /DS digest is not hex/);
  assert.throws(() => records('x 300 IN NSEC y.example.org. BOGUS'), /NSEC type "BOGUS"/);
});

test("a fresh process adopts the stored version's signatures of its own keys, and only those", () => {
  const v1 = new ZoneSignatures();
  const first = signed(v1);
  v1.seal();
  const signer = new ZoneSigner('example.org', key, POLICY, new ZoneSignatures());
  const fresh = new ZoneSignatures();
  assert.equal(fresh.inherits, false);
  fresh.adopt(signer.signaturesIn(first));
  assert.equal(fresh.inherits, true);
  assert.deepEqual(lines(signed(fresh, ZONE_TEXT, NOW + 60)), lines(first));
  // Another key's signatures are not this signer's to reuse: everything is signed anew.
  const other = keySetAt([newStoredKey(13, 0)], 1).signing;
  const stranger = new ZoneSigner('example.org', other, POLICY, new ZoneSignatures());
  assert.equal(stranger.signaturesIn(first).size, 0);
  // Adopting never replaces a generation already inherited.
  const later = new ZoneSignatures(v1);
  later.adopt(new Map());
  assert.deepEqual(lines(signed(later, ZONE_TEXT, NOW + 60)), lines(first));
});
