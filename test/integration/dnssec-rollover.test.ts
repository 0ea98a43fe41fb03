// A CSK rollover of a running Cirrus (DNSSEC=on) checked by real validators at every step:
// before, new DNSKEY pre-published, double signature, parent DS swapped and confirmed, old key
// retired, old DNSKEY removed. At each step delv validates a GSLB answer and a nonexistent
// name (compact denial) anchored on the DS a parent would hold then, and fails on the DS it
// must no longer hold; all along, unbound below a real signed parent (Knot serving example.net
// with the delegation's DS, swapped by the test as a registry would) answers with AD.
// The zone's TTLs are 60 s and rolloverTimescale 0.1 shortens every interval tenfold;
// unbound's cache is capped at 6 s, the same tenth of the TTLs, so the timings stay correct
// for it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { startKnotParent, type KnotParent } from '../helpers/knot-parent.js';
import { startUnbound, type Unbound } from '../helpers/unbound-validator.js';
import { eventually, sleep } from '../helpers/wait.js';

const run = promisify(execFile);
const ZONE = 'cdn.example.net';
const TIMESCALE = 0.1;
const TTL = 60;

/** delv straight at Cirrus with `ds` (rdata text) as the zone's trust anchor: its output. */
async function delv(port: number, dir: string, ds: string, name: string): Promise<string> {
  const [tag, alg, type, ...digest] = ds.split(/\s+/);
  const file = join(dir, `anchor-${tag}.conf`);
  writeFileSync(
    file,
    `trust-anchors {\n  ${ZONE}. static-ds ${tag} ${alg} ${type} "${digest.join('')}";\n};\n`,
  );
  // delv exits 0 on a broken chain too: the verdict is in what it prints.
  const { stdout, stderr } = await run(
    'delv',
    ['@127.0.0.1', '-p', String(port), '-a', file, `+root=${ZONE}`, name, 'A'],
    { timeout: 15_000 },
  ).catch((e: { stdout?: string; stderr?: string }) => ({
    stdout: e.stdout ?? '',
    stderr: e.stderr ?? '',
  }));
  return `${stdout}\n${stderr}`;
}

/** The key tags of the RRSIGs over `name`/`type` Cirrus serves. */
async function sigTags(port: number, name: string, type: string): Promise<number[]> {
  const r = await dig(port, [name, type, '+dnssec', '+norec']);
  return r.answer
    .map((l) => l.split(' '))
    .filter((f) => f[3] === 'RRSIG' && f[4] === type)
    .map((f) => Number(f[10]))
    .sort((a, b) => a - b);
}

describe('CSK rollover validated by delv and unbound at every step', () => {
  let cirrus: RunningCirrus;
  let knot: KnotParent;
  let unbound: Unbound;
  let dir: string;
  let cname: string;
  const nx = `nope-${Date.now()}.${ZONE}`;
  // unbound's answers all along: [when, step, status, flags, name].
  const watched: Array<{ step: string; ok: boolean; line: string }> = [];
  let step = 'before';
  let watching = true;
  let watcher: Promise<void> | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-rollover-'));
    cirrus = await startCirrus({
      zone: { name: ZONE, ttl: TTL, soa: { refresh: TTL, ttl: TTL, minimum: TTL } },
      gslb: { ttl: TTL },
      dnssec: {
        enabled: true,
        keyTtl: TTL,
        parentDsTtl: TTL,
        parentPropagationSeconds: TTL,
        rolloverTimescale: TIMESCALE,
      },
    });
    const created = await api(cirrus, 'POST', '/api/v1/domains', {
      domain: 'www.rollover.example',
      origins: [{ address: '203.0.113.7' }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    cname = created.json.cname as string;
    const ds = await api(cirrus, 'GET', '/api/v1/dnssec/ds');
    assert.equal(ds.status, 200);
    knot = await startKnotParent({
      parent: 'example.net',
      child: ZONE,
      ds: [rdata(ds.json.ds[0].text)],
      ttl: TTL,
    });
    unbound = await startUnbound({
      anchor: knot.anchorDs,
      stubs: { 'example.net': knot.port, [ZONE]: cirrus.dnsPort },
      cacheMaxTtl: TTL * TIMESCALE,
    });
    watcher = (async () => {
      while (watching) {
        for (const name of [cname, nx]) {
          const r = await dig(unbound.port, [name, 'A', '+dnssec']).catch((e: Error) => ({
            status: `error ${e.message}`,
            flags: [] as string[],
          }));
          // Compact denial: a nonexistent name is NOERROR with an NSEC (NXDOMAIN accepted too).
          const ok =
            r.flags.includes('ad') &&
            (r.status === 'NOERROR' || (name === nx && r.status === 'NXDOMAIN'));
          watched.push({ step, ok, line: `${step} ${name} ${r.status} ${r.flags.join(' ')}` });
        }
        await sleep(150);
      }
    })();
  });

  after(async () => {
    watching = false;
    await watcher;
    await unbound?.stop();
    await knot?.stop();
    await cirrus?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** "cdn.example.net.\tIN\tDS\t1234 13 2 HEX" → "1234 13 2 HEX". */
  function rdata(text: string): string {
    return text.split('\t').at(-1) as string;
  }

  async function status() {
    const s = await api(cirrus, 'GET', '/api/v1/dnssec');
    assert.equal(s.status, 200);
    return s.json;
  }

  /** What one step must show; throws when the step outlived its phase. */
  async function check(opts: {
    phase: string;
    dnskeys: number;
    signers: number[];
    cds: number;
    valid: string[];
    broken: string[];
  }) {
    const s = await status();
    assert.equal(s.rollover.phase, opts.phase);
    const until = s.rollover.next ? Date.parse(s.rollover.next.at) : Infinity;
    // The phase is computed from the keys' times; the served zone follows when the rebuild
    // that the key event's timer starts is published, a moment later: wait for it (at most
    // 5 s, and never past the phase).
    const served = () => dig(cirrus.dnsPort, [ZONE, 'DNSKEY', '+dnssec', '+norec']);
    const count = (r: Awaited<ReturnType<typeof served>>) =>
      r.answer.filter((l) => l.split(' ')[3] === 'DNSKEY').length;
    let keys = await served();
    for (const end = Math.min(until, Date.now() + 5000); count(keys) !== opts.dnskeys;) {
      if (Date.now() > end) break;
      await sleep(50);
      keys = await served();
    }
    assert.equal(count(keys), opts.dnskeys, `${opts.phase}: DNSKEY count\n${keys.raw}`);
    assert.deepEqual(await sigTags(cirrus.dnsPort, ZONE, 'DNSKEY'), opts.signers);
    assert.deepEqual(await sigTags(cirrus.dnsPort, cname, 'A'), opts.signers);
    const cds = await dig(cirrus.dnsPort, [ZONE, 'CDS', '+norec']);
    assert.deepEqual(
      cds.answer.map((l) => Number(l.split(' ')[4])),
      [opts.cds],
    );
    for (const ds of opts.valid) {
      const pos = await delv(cirrus.dnsPort, dir, ds, cname);
      assert.match(
        pos,
        /^; fully validated/m,
        `${opts.phase}: delv ${cname} with DS ${ds}\n${pos}`,
      );
      const neg = await delv(cirrus.dnsPort, dir, ds, nx);
      assert.match(
        neg,
        /^; negative response, fully validated/m,
        `${opts.phase}: delv ${nx} with DS ${ds}\n${neg}`,
      );
    }
    for (const ds of opts.broken) {
      const out = await delv(cirrus.dnsPort, dir, ds, cname);
      assert.doesNotMatch(out, /fully validated/, `${opts.phase}: DS ${ds} must not validate`);
      assert.match(out, /resolution failed/, out);
    }
    const r = await dig(unbound.port, [cname, 'A', '+dnssec']);
    assert.ok(r.flags.includes('ad'), `${opts.phase}: unbound AD\n${r.raw}`);
    assert.ok(Date.now() < until, `${opts.phase}: the checks outlasted the phase`);
  }

  async function waitPhase(phase: string) {
    await eventually(`phase ${phase}`, 60_000, async () =>
      (await status()).rollover.phase === phase ? true : undefined,
    );
    step = phase;
  }

  it('keeps every answer validating from the old key to the new one', async (t) => {
    const before = await status();
    assert.equal(before.keys.length, 1);
    const oldTag = before.keys[0].tag as number;
    const oldDs = rdata(before.keys[0].ds);
    // The rollover's timings, from the zone's TTLs (60 s) and the parent's, times 0.1.
    assert.deepEqual(before.rollover.timings, {
      publishToActivateSeconds: 12,
      confirmToRetireSeconds: 12,
      retireToRemoveSeconds: 12,
    });
    await check({
      phase: 'idle',
      dnskeys: 1,
      signers: [oldTag],
      cds: oldTag,
      valid: [oldDs],
      broken: [],
    });

    const begun = await api(cirrus, 'POST', '/api/v1/dnssec/rollover', {});
    assert.equal(begun.status, 200, JSON.stringify(begun.json));
    step = 'pre-publication';
    const again = await api(cirrus, 'POST', '/api/v1/dnssec/rollover', {});
    assert.equal(again.status, 409);
    const fresh = begun.json.keys.find((k: { tag: number }) => k.tag !== oldTag);
    const newTag = fresh.tag as number;
    const newDs = rdata(fresh.ds);
    // Pre-publication: the new DNSKEY is served and signs nothing; its DS cannot anchor yet.
    await check({
      phase: 'pre-publication',
      dnskeys: 2,
      signers: [oldTag],
      cds: oldTag,
      valid: [oldDs],
      broken: [newDs],
    });

    // Double signature: either DS validates; CDS names the new key.
    await waitPhase('double-signature');
    await check({
      phase: 'double-signature',
      dnskeys: 2,
      signers: [oldTag, newTag].sort((a, b) => a - b),
      cds: newTag,
      valid: [oldDs, newDs],
      broken: [],
    });
    const ds = await api(cirrus, 'GET', '/api/v1/dnssec/ds');
    assert.equal(rdata(ds.json.ds[0].text), newDs);

    // The parent swaps the DS (as a registry would from the CDS), the operator confirms.
    await knot.setDs([newDs]);
    step = 'ds-swapped';
    const done = await api(cirrus, 'POST', '/api/v1/dnssec/rollover/complete', {});
    assert.equal(done.status, 200, JSON.stringify(done.json));
    step = 'ds-propagation';
    await check({
      phase: 'ds-propagation',
      dnskeys: 2,
      signers: [oldTag, newTag].sort((a, b) => a - b),
      cds: newTag,
      valid: [newDs, oldDs],
      broken: [],
    });

    // Old key retired: it signs nothing, its DNSKEY is still served; its DS no longer holds.
    await waitPhase('old-retired');
    await check({
      phase: 'old-retired',
      dnskeys: 2,
      signers: [newTag],
      cds: newTag,
      valid: [newDs],
      broken: [oldDs],
    });

    // Old DNSKEY removed: the new key alone.
    await waitPhase('idle');
    step = 'removed';
    await check({
      phase: 'idle',
      dnskeys: 1,
      signers: [newTag],
      cds: newTag,
      valid: [newDs],
      broken: [oldDs],
    });
    // unbound kept validating through a cache lifetime after the last step.
    await sleep(TTL * TIMESCALE * 1000 + 500);
    watching = false;
    await watcher;
    const bad = watched.filter((w) => !w.ok);
    t.diagnostic(`unbound answers checked: ${watched.length}, without AD: ${bad.length}`);
    const steps = new Set(watched.map((w) => w.step));
    for (const s of [
      'before',
      'pre-publication',
      'double-signature',
      'ds-propagation',
      'old-retired',
      'removed',
    ])
      assert.ok(steps.has(s), `unbound was asked during ${s}`);
    assert.deepEqual(
      bad.map((w) => w.line),
      [],
      `unbound answers without AD (of ${watched.length}):\n${unbound.log().slice(-3000)}`,
    );
  });
});
