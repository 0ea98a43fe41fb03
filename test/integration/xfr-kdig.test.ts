// AXFR and IXFR of a zone well over 64 KiB with real `kdig` (Knot) and `dig` (BIND),
// both verifying the TSIG of every message: the transfer is split into many messages,
// IXFR sends only the differences from the journal, the whole zone in IXFR form when the
// client is older than the journal, and the single SOA when it is current.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { exportRecords } from '../../src/snapshot/export.js';

const SHA512 = randomBytes(64).toString('base64');
const SHA1 = randomBytes(20).toString('base64');
const HOSTS = 4000;

function staticZone(extra = ''): string {
  const lines: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    lines.push(`host-${i} 300 IN A 198.51.${(i >> 8) & 255}.${i & 255}`);
    if (i % 10 === 0) lines.push(`host-${i} 300 IN TXT "${'x'.repeat(120)}"`);
  }
  return lines.join('\n') + '\n' + extra;
}

/** kdig's summary line: ";; Received 123 B (3 messages, 4008 records)". */
function received(raw: string): { bytes: number; messages: number; records: number } {
  const m = /;; Received (\d+) B \((\d+) messages?, (\d+) records?\)/.exec(raw);
  assert.ok(m, raw.slice(-2000));
  return { bytes: Number(m[1]), messages: Number(m[2]), records: Number(m[3]) };
}

describe('AXFR / IXFR of a large zone with kdig and dig', () => {
  let run: RunningCirrus;
  const key512 = () => ['-y', `hmac-sha512:big-key:${SHA512}`];

  before(async () => {
    run = await startCirrus({
      xfr: {
        keys: [
          { name: 'big-key', algorithm: 'hmac-sha512', secret: SHA512 },
          { name: 'old-key', algorithm: 'hmac-sha1', secret: SHA1 },
        ],
        allow: [
          { cidr: '127.0.0.0/8', key: 'big-key' },
          { cidr: '127.0.0.1', key: 'old-key' },
        ],
        journalSize: 2,
      },
    });
    assert.equal((await api(run, 'PUT', '/api/v1/zone/records', staticZone())).status, 200);
  });
  after(() => run?.stop());

  it('AXFR: the whole zone in many TSIG-signed messages, SOA first and last', async () => {
    const expected = exportRecords(run.cirrus.snapshots.current).length + 1; // SOA twice
    const r = await dig(run.dnsPort, [...key512(), 'cdn.example.net', 'AXFR'], 'kdig');
    const got = received(r.raw);
    assert.ok(got.bytes > 65536, `${got.bytes} bytes`);
    assert.ok(got.messages > 1, `${got.messages} messages`);
    assert.equal(got.records, expected);
    assert.doesNotMatch(r.raw, /;; (WARNING|ERROR)|failed/);
    // kdig prints each message's TSIG; every one verified (it stops at the first that fails).
    const tsigs = r.raw.split('\n').filter((l) => /\tTSIG\t/.test(l));
    assert.equal(tsigs.length, got.messages);
    assert.ok(tsigs.every((l) => / NOERROR /.test(l)));
    const lines = r.raw.split('\n').filter((l) => /\tIN\t/.test(l) && !/\tTSIG\t/.test(l));
    assert.match(lines[0] as string, /\tSOA\t/);
    assert.match(lines.at(-1) as string, /\tSOA\t/);
    assert.equal(lines.filter((l) => /\tSOA\t/.test(l)).length, 2);
    console.log(`# AXFR: ${got.bytes} bytes, ${got.messages} messages, ${got.records} records`);

    // BIND's dig checks every message's TSIG too, here with the hmac-sha1 key of an old peer.
    const old = await dig(run.dnsPort, [
      '-y',
      `hmac-sha1:old-key:${SHA1}`,
      'cdn.example.net',
      'AXFR',
    ]);
    assert.match(old.raw, new RegExp(`XFR size: ${expected} records \\(messages ${got.messages},`));
    assert.doesNotMatch(old.raw, /Couldn't verify|failed/);
  });

  it('IXFR: the differences only; the whole zone when older than the journal; one SOA when current', async () => {
    const first = run.cirrus.snapshots.current.serial;
    const full = exportRecords(run.cirrus.snapshots.current).length + 1;
    assert.equal(
      (await api(run, 'PUT', '/api/v1/zone/records', staticZone('changed 60 IN TXT "one"\n')))
        .status,
      200,
    );
    const second = run.cirrus.snapshots.current.serial;
    assert.notEqual(second, first);
    // The journal is written just after the snapshot is published.
    await new Promise((r) => setTimeout(r, 200));
    const inc = await dig(run.dnsPort, [...key512(), 'cdn.example.net', `IXFR=${first}`], 'kdig');
    const incGot = received(inc.raw);
    // SOA(new), SOA(old), SOA(new), the added TXT, SOA(new).
    assert.equal(incGot.records, 5, inc.raw);
    assert.match(inc.raw, /changed\.cdn\.example\.net\.\s+60\s+IN\s+TXT\s+"one"/);

    // Two more changes: with journalSize 2 the first serial falls out of the journal.
    for (const v of ['two', 'three']) {
      const res = await api(
        run,
        'PUT',
        '/api/v1/zone/records',
        staticZone(`changed 60 IN TXT "${v}"\n`),
      );
      assert.equal(res.status, 200);
    }
    await new Promise((r) => setTimeout(r, 200));
    const third = run.cirrus.snapshots.current.serial;
    const stepwise = await dig(
      run.dnsPort,
      [...key512(), 'cdn.example.net', `IXFR=${second}`],
      'kdig',
    );
    // Two steps: SOA(new); SOA, TXT "one" out, SOA, TXT "two" in; SOA, "two" out, SOA, "three" in; SOA(new).
    assert.equal(received(stepwise.raw).records, 10, stepwise.raw);
    const tooOld = await dig(
      run.dnsPort,
      [...key512(), 'cdn.example.net', `IXFR=${first}`],
      'kdig',
    );
    const old = received(tooOld.raw);
    assert.equal(old.records, full + 1, 'the whole zone (one record more: the new TXT)');
    assert.ok(old.messages > 1);
    const current = await dig(
      run.dnsPort,
      [...key512(), 'cdn.example.net', `IXFR=${third}`],
      'kdig',
    );
    assert.equal(received(current.raw).records, 1);
  });

  it('refuses a client outside the ACL and a key the ACL does not name for the address', async () => {
    // 127.0.0.2 is inside 127.0.0.0/8 (big-key only): old-key is not enough there.
    const r = await dig(run.dnsPort, [
      '-b',
      '127.0.0.2',
      '-y',
      `hmac-sha1:old-key:${SHA1}`,
      'cdn.example.net',
      'AXFR',
    ]);
    assert.match(r.raw, /Transfer failed/);
    const ok = await dig(run.dnsPort, ['-b', '127.0.0.2', ...key512(), 'cdn.example.net', 'AXFR']);
    assert.match(ok.raw, /XFR size: \d+ records/);
    const metrics = await (await fetch(`${run.apiUrl}/metrics`)).text();
    assert.match(metrics, /cirrus_xfr_requests_total\{kind="axfr",result="refused"\} [1-9]/);
  });
});
