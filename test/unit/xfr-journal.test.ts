import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dns2 from 'dns2';
import {
  diffVersions,
  journalPath,
  recordFromKey,
  recordKey,
  zoneVersion,
  type JournalEntry,
} from '../../src/xfr/journal.js';
import { notifyMessage, soaSerialIn, transferMessages } from '../../src/wire/transfer.js';
import { parseZoneText } from '../../src/zone/parse.js';
import { Peers } from '../../src/xfr/peers.js';
import { finishConfig } from '../../src/config/load.js';
import { buildQuery } from '../helpers/wire.js';

const ZONE = 'cdn.example.net';
const zone = (text: string) => parseZoneText(text, { origin: ZONE, defaultTtl: 300 });
const SOA = (serial: number) =>
  `@ 3600 IN SOA ns1.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 1209600 60`;

describe('IXFR journal', () => {
  it('keeps records as exact text keys', () => {
    for (const r of zone(
      `${SOA(7)}\nwww 60 IN A 192.0.2.1\nt 30 IN TXT "a b" "c"\nmx 300 IN MX 10 mail.example.com.`,
    ))
      assert.deepEqual(recordFromKey(recordKey(r)), r);
  });

  it('diffs two versions into removals and additions, SOA apart', () => {
    const a = zoneVersion(1, zone(`${SOA(1)}\nwww 60 IN A 192.0.2.1\nkeep 60 IN A 192.0.2.9`));
    const b = zoneVersion(2, zone(`${SOA(2)}\nwww 60 IN A 192.0.2.2\nkeep 60 IN A 192.0.2.9`));
    const d = diffVersions(a, b);
    assert.equal(d.from, 1);
    assert.equal(d.to, 2);
    assert.deepEqual(
      d.removed.map((k) => recordFromKey(k).rdata.join('.')),
      ['192.0.2.1'],
    );
    assert.deepEqual(
      d.added.map((k) => recordFromKey(k).rdata.join('.')),
      ['192.0.2.2'],
    );
    assert.notEqual(d.fromSoa, d.toSoa);
  });

  const e = (from: number, to: number): JournalEntry => ({
    from,
    to,
    fromSoa: '',
    toSoa: '',
    removed: [],
    added: [],
  });
  const table: Array<[string, JournalEntry[], number, number, number[][] | undefined]> = [
    ['one step', [e(1, 2)], 1, 2, [[1, 2]]],
    [
      'a chain',
      [e(1, 2), e(2, 5), e(5, 9)],
      2,
      9,
      [
        [2, 5],
        [5, 9],
      ],
    ],
    [
      'a prefix of the chain (another instance is ahead)',
      [e(1, 2), e(2, 5), e(5, 9)],
      1,
      5,
      [
        [1, 2],
        [2, 5],
      ],
    ],
    ['older than the journal', [e(3, 4)], 1, 4, undefined],
    ['a fork', [e(1, 2), e(3, 4)], 1, 4, undefined],
    ['a target not in the journal', [e(1, 2)], 1, 3, undefined],
  ];
  for (const [what, journal, from, to, want] of table) {
    it(`journalPath: ${what}`, () => {
      const path = journalPath(journal, from, to);
      assert.deepEqual(
        path?.map((x) => [x.from, x.to]),
        want,
      );
    });
  }
});

describe('transfer messages', () => {
  const records = zone(
    Array.from({ length: 3000 }, (_, i) => `h${i} 300 IN A 198.51.${i >> 8}.${i & 255}`).join('\n'),
  );
  const req = {
    id: 0xbeef,
    question: buildQuery({ name: 'CDN.example.net', type: 252 }).subarray(12),
    qname: ZONE,
    recursionDesired: false,
  };

  it('splits a large transfer, question in the first message only, every record once', () => {
    const msgs = transferMessages(req, records, 16384);
    assert.ok(msgs.length > 1);
    let total = 0;
    for (const [i, m] of msgs.entries()) {
      assert.ok(m.length <= 16384, `${m.length}`);
      const d = dns2.Packet.parse(m);
      assert.equal(d.header.id, 0xbeef);
      assert.equal(d.header.qr, 1);
      assert.equal(d.header.aa, 1);
      assert.equal(d.questions.length, i === 0 ? 1 : 0);
      total += d.answers.length;
      // Owners point into the question, so they read with its case (names compare
      // case-insensitively).
      if (i === 0) assert.equal(d.answers[0]?.name, 'h0.CDN.example.net');
    }
    assert.equal(total, records.length);
    // The question keeps its case (0x20) and owners compress against it.
    assert.equal(msgs[0]?.subarray(13, 16).toString(), 'CDN');
  });

  it('writes a NOTIFY with the SOA hint, and reads serials back', () => {
    const soa = zone(SOA(2024010101))[0]!;
    const n = notifyMessage(7, ZONE, soa);
    assert.equal((n[2]! >> 3) & 0x0f, 4, 'opcode NOTIFY');
    assert.equal(n[2]! & 0x04, 0x04, 'AA');
    assert.equal(soaSerialIn(n, 'answer'), 2024010101);
    assert.equal(soaSerialIn(n, 'authority'), undefined);
  });
});

describe('transfer ACL', () => {
  const config = finishConfig({
    seed: { dir: null },
    store: { file: null },
    xfr: {
      keys: [
        { name: 'k1', secret: 'c2VjcmV0c2VjcmV0c2VjcmV0' },
        { name: 'k2', secret: 'c2VjcmV0c2VjcmV0c2VjcmV1' },
      ],
      secondaries: [{ name: 'ns2', address: '192.0.2.53', key: 'k1' }],
      allow: [{ cidr: '198.51.100.0/24' }],
    },
  });
  const peers = new Peers(config.xfr, {
    keys: [],
    secondaries: [{ name: 'ns3', address: '2001:db8::53', port: 53, key: 'k2', notify: true }],
  });
  const table: Array<[string, string | undefined, boolean]> = [
    ['192.0.2.53', 'k1', true],
    ['::ffff:192.0.2.53', 'k1', true],
    ['192.0.2.53', undefined, false],
    ['192.0.2.53', 'k2', false],
    ['192.0.2.54', 'k1', false],
    ['2001:db8::53', 'k2', true],
    ['2001:db8::53', 'k1', false],
    ['198.51.100.7', undefined, true],
    ['198.51.100.7', 'k2', true],
    ['203.0.113.1', undefined, false],
  ];
  for (const [address, key, allowed] of table) {
    it(`${address} with ${key ?? 'no key'}: ${allowed ? 'allowed' : 'refused'}`, () => {
      assert.equal(peers.mayTransfer(address, key), allowed);
    });
  }

  it('rejects a config naming a key that does not exist, by field', () => {
    assert.throws(
      () =>
        finishConfig({
          seed: { dir: null },
          xfr: { secondaries: [{ name: 'ns2', address: '192.0.2.53', key: 'nope' }] },
        }),
      /xfr\.secondaries\[0\]\.key: no TSIG key named nope/,
    );
    assert.throws(
      () =>
        finishConfig({
          seed: { dir: null },
          xfr: { secondaries: [{ name: 'ns2', address: 'ns2.example.net' }] },
        }),
      /xfr\.secondaries\[0\]\.address: "ns2.example.net" is not an IP address/,
    );
  });
});
