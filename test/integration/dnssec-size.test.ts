// Signed answers and the client's EDNS size (issue 19 point 6, RFC 6891 §7, RFC 9715): a
// signed answer larger than the size the client offers comes back over UDP with TC=1 and
// no records, and whole over TCP, where it validates; no UDP reply exceeds 1232 bytes (our
// dns.udpSize default) whatever size the client offers. Checked with dig and kdig, and with
// unbound offering 512 bytes upstream: it gets TC, retries over TCP and returns AD.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig, type DigResult } from '../helpers/dig.js';
import { anchorsFromDnskey, delv, startUnbound, type Resolver } from '../helpers/validators.js';

const ZONES = fileURLToPath(new URL('../../zones', import.meta.url));
const ZONE = 'cdn.example.net';
const txt = (n: number, tag: string) => `"${tag}${'x'.repeat(n - tag.length)}"`;
// `mid` fits 512 bytes unsigned and not signed; `big` does not fit 1232 bytes signed.
const EXTRA = [
  `mid 300 IN TXT ${txt(180, 'm1')}`,
  `mid 300 IN TXT ${txt(180, 'm2')}`,
  ...[1, 2, 3, 4, 5, 6].map((i) => `big 300 IN TXT ${txt(200, `b${i}`)}`),
  '',
].join('\n');

const size = (r: DigResult) => Number(/MSG SIZE\s+rcvd: (\d+)/.exec(r.raw)?.[1] ?? NaN);

async function truncatedCount(run: RunningCirrus): Promise<number> {
  const text = await (await fetch(`${run.apiUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('cirrus_dns_truncated_total '));
  return Number(line?.split(' ')[1] ?? 0);
}

describe('signed answers, EDNS size and truncation (dig, kdig, delv, unbound)', () => {
  let seed: string;
  let run: RunningCirrus;
  let anchors: string[];
  let unbound: Resolver;

  before(async () => {
    seed = mkdtempSync(join(tmpdir(), 'cirrus-dnssec-size-'));
    cpSync(ZONES, seed, { recursive: true });
    appendFileSync(join(seed, 'records.zone'), EXTRA);
    run = await startCirrus({
      seed: { dir: seed },
      zone: { name: ZONE },
      dnssec: { enabled: true },
    });
    anchors = await anchorsFromDnskey(run.dnsPort, ZONE);
    unbound = await startUnbound({
      zone: ZONE,
      authPort: run.dnsPort,
      anchors,
      ednsBufferSize: 512,
    });
  });
  after(async () => {
    await unbound?.stop();
    await run?.stop();
    if (seed) rmSync(seed, { recursive: true, force: true });
  });

  it('an RRset that fits 512 bytes unsigned gets TC=1 with DO at +bufsize=512, fits at 1232', async () => {
    const plain = await dig(run.dnsPort, [
      `mid.${ZONE}`,
      'TXT',
      '+bufsize=512',
      '+ignore',
      '+norec',
    ]);
    assert.ok(!plain.flags.includes('tc'), plain.raw);
    assert.equal(plain.answer.length, 2, plain.raw);
    const args = [`mid.${ZONE}`, 'TXT', '+dnssec', '+ignore', '+norec'];
    const small = await dig(run.dnsPort, [...args, '+bufsize=512']);
    assert.ok(small.flags.includes('tc'), small.raw);
    assert.deepEqual(small.answer, [], 'a truncated reply carries no records');
    assert.ok(size(small) <= 512, small.raw);
    assert.match(small.edns ?? '', /flags: do;/, 'the OPT with DO is kept');
    const fits = await dig(run.dnsPort, [...args, '+bufsize=1232']);
    assert.ok(!fits.flags.includes('tc'), fits.raw);
    assert.equal(fits.answer.filter((l) => / RRSIG TXT /.test(l)).length, 1, fits.raw);
    assert.ok(size(fits) > 512 && size(fits) <= 1232, `${size(fits)} bytes`);
  });

  it('kdig sees the same: TC at 512, whole and signed over TCP', async () => {
    const udp = await dig(
      run.dnsPort,
      [`mid.${ZONE}`, 'TXT', '+dnssec', '+bufsize=512', '+notcp', '+ignore', '+norec'],
      'kdig',
    );
    assert.ok(udp.flags.includes('tc'), udp.raw);
    const tcp = await dig(run.dnsPort, [`mid.${ZONE}`, 'TXT', '+dnssec', '+tcp', '+norec'], 'kdig');
    assert.ok(!tcp.flags.includes('tc'), tcp.raw);
    assert.equal(tcp.answer.filter((l) => /\tTXT\t|\sTXT\s/.test(l) && !/RRSIG/.test(l)).length, 2);
    assert.ok(
      tcp.answer.some((l) => /RRSIG\s+TXT/.test(l)),
      tcp.raw,
    );
  });

  it('nothing over 1232 bytes by UDP, whatever the client offers; over TCP the whole answer', async () => {
    const big = await dig(run.dnsPort, [
      `big.${ZONE}`,
      'TXT',
      '+dnssec',
      '+bufsize=4096',
      '+ignore',
      '+norec',
    ]);
    assert.ok(big.flags.includes('tc'), big.raw);
    assert.match(big.edns ?? '', /udp: 1232/, 'we offer 1232');
    const tcp = await dig(run.dnsPort, [`big.${ZONE}`, 'TXT', '+dnssec', '+tcp', '+norec']);
    assert.ok(!tcp.flags.includes('tc'), tcp.raw);
    assert.ok(size(tcp) > 1232, `${size(tcp)} bytes over TCP`);
    assert.equal(tcp.answer.length, 7, tcp.raw);
    // Every other kind of signed answer, asked with a 4096-byte offer, fits in 1232.
    for (const q of [
      [ZONE, 'DNSKEY'],
      [ZONE, 'ANY'],
      [ZONE, 'NS'],
      [`static-example-org.${ZONE}`, 'A'],
      [`static-example-org.${ZONE}`, 'AAAA'],
      [`nope.${ZONE}`, 'A'],
      [`mid.${ZONE}`, 'TXT'],
      [`big.${ZONE}`, 'TXT'],
    ]) {
      const r = await dig(run.dnsPort, [
        ...q,
        '+dnssec',
        '+bufsize=4096',
        '+notcp',
        '+ignore',
        '+norec',
      ]);
      assert.ok(size(r) <= 1232, `${q.join(' ')}: ${size(r)} bytes`);
    }
  });

  it('the truncated answers validate over TCP: delv +tcp, and unbound after TC', async () => {
    for (const name of [`mid.${ZONE}`, `big.${ZONE}`]) {
      const d = await delv(run.dnsPort, ZONE, anchors, ['+tcp', name, 'TXT']);
      assert.ok(d.validated, d.out);
    }
    const before = await truncatedCount(run);
    const r = await dig(unbound.port, [`mid.${ZONE}`, 'TXT', '+dnssec', '+time=5']);
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.ok(r.flags.includes('ad'), r.raw);
    assert.equal(r.answer.filter((l) => / TXT "m/.test(l)).length, 2, r.raw);
    // unbound offered 512 bytes: it got TC from us and asked again over TCP.
    assert.ok((await truncatedCount(run)) > before, 'a TC reply was sent to unbound');
  });
});
