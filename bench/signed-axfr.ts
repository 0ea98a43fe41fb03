// Size and cost of a signed zone transfer (issue 19, point 4): the zone a secondary takes
// by AXFR, unsigned and signed (ECDSA P-256 or Ed25519), for the seeded zone (zones/) and
// for N generated domains (bench/gen-seed.mjs: one origin each, 20 nodes in 4 pools): the
// records and the wire bytes of the AXFR (transferMessages, 16 KiB messages, no TSIG), the
// snapshot build, the first signing of the export (every RRSIG made), the next version's
// export after one domain is added (signatures carried over) with its IXFR size, and the
// export at a re-signing period where every signature has come due.
// Also: the longest the event loop is held while the export is signed in slices, and the
// bytes of the zone version the IXFR journal stores.
// `node --import tsx bench/signed-axfr.ts [DOMAINS...] [--algorithm=ed25519] [--json]`;
// DOMAINS 0 is the seeded zone (default: 0 10000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { EmbeddedStore } from '../src/store/embedded.js';
import { repositories, snapshotSource } from '../src/repositories.js';
import { seedStore } from '../src/domains/seed.js';
import { createDomain } from '../src/domains/service.js';
import type { DomainCreate } from '../src/model/domain.js';
import { ensureZoneKey } from '../src/dnssec/key-repository.js';
import { buildFromStore } from '../src/snapshot/from-store.js';
import { exportRecords, exportRecordsCooperatively } from '../src/snapshot/export.js';
import type { Snapshot } from '../src/snapshot/snapshot.js';
import { transferMessages } from '../src/wire/transfer.js';
import { encodeName } from '../src/wire/name.js';
import { diffVersions, zoneVersion, zoneVersionCooperatively } from '../src/xfr/journal.js';
import { RRType } from '../src/wire/constants.js';
import { silentLogger } from '../src/lib/logger.js';
// @ts-expect-error: a plain .mjs helper without types
import { writeSeed } from './gen-seed.mjs';

const args = process.argv.slice(2);
const sizes = args.filter((a) => !a.startsWith('--')).map(Number);
const algorithm = args.includes('--algorithm=ed25519') ? 'ed25519' : 'ecdsap256sha256';
const asJson = args.includes('--json');
const DAY = 86_400_000;

const ms = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1e5) / 10;

function configFor(enabled: boolean): Config {
  return finishConfig({
    seed: { dir: null },
    store: { file: null },
    dnssec: { enabled, algorithm },
  });
}

/** The AXFR's messages for a snapshot: SOA, the zone, SOA, as transfer.ts sends them. */
function axfr(s: Snapshot): { records: number; bytes: number; messages: number } {
  const body = exportRecords(s).filter((r) => r.type !== RRType.SOA);
  const all = [s.zone.soa, ...body, s.zone.soa];
  const question = Buffer.concat([encodeName(s.zone.name), Buffer.from([0, 252, 0, 1])]);
  const msgs = transferMessages(
    { id: 1, question, qname: s.zone.name, recursionDesired: false },
    all,
  );
  return {
    records: all.length,
    bytes: msgs.reduce((n, m) => n + m.length, 0),
    messages: msgs.length,
  };
}

async function measure(domains: number) {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-signed-axfr-'));
  try {
    const seedDir = domains === 0 ? 'zones' : join(dir, 'seed');
    if (domains > 0) writeSeed(seedDir, domains, 20);
    const store = new EmbeddedStore();
    const repos = repositories(store, silentLogger());
    const signed = configFor(true);
    await seedStore(signed, repos, seedDir);
    const now = Date.UTC(2026, 11, 4, 1, 0, 0);
    await ensureZoneKey(repos.dnssec, signed.zone.name, algorithm === 'ed25519' ? 15 : 13, now);
    const source = snapshotSource(repos);

    const plain = await buildFromStore(configFor(false), source, { generation: 1, now });
    const unsigned = {
      ...axfr(plain.snapshot),
      journalVersionBytes: JSON.stringify(
        zoneVersion(plain.snapshot.serial, exportRecords(plain.snapshot)),
      ).length,
    };

    let t = process.hrtime.bigint();
    const first = await buildFromStore(signed, source, { generation: 1, now });
    const buildMs = ms(t);
    // Signed as the server signs it (in slices): the longest the event loop was held.
    let longest = 0;
    let last = performance.now();
    let running = true;
    const probe = () => {
      const at = performance.now();
      longest = Math.max(longest, at - last);
      last = at;
      if (running) setImmediate(probe);
    };
    setImmediate(probe);
    t = process.hrtime.bigint();
    const records = await exportRecordsCooperatively(first.snapshot);
    const signMs = ms(t);
    running = false;
    const held = longest;
    // What the hidden master does next with it: the journal's zone version (in slices too).
    t = process.hrtime.bigint();
    const version = await zoneVersionCooperatively(first.snapshot.serial, records);
    const versionMs = ms(t);
    const journalBytes = JSON.stringify(version).length;
    const signedAxfr = axfr(first.snapshot);

    // One more domain: the next version re-signs only what changed.
    await createDomain(signed, repos, {
      domain: 'one-more.example.net',
      origins: [{ address: '203.0.113.7' }],
    } as DomainCreate);
    const later = now + 60_000;
    const second = await buildFromStore(signed, source, {
      generation: 2,
      now: later,
      previous: first.snapshot,
    });
    t = process.hrtime.bigint();
    const next = exportRecords(second.snapshot);
    const nextMs = ms(t);
    const diff = diffVersions(
      zoneVersion(first.snapshot.serial, records),
      zoneVersion(second.snapshot.serial, next),
    );

    // The period at which every signature has less than refreshDays left: all re-made.
    const d = signed.dnssec;
    const due = later + (d.validityDays - d.refreshDays) * DAY + d.jitterHours * 3_600_000 + DAY;
    const third = await buildFromStore(signed, source, {
      generation: 3,
      now: due,
      previous: second.snapshot,
    });
    t = process.hrtime.bigint();
    const resigned = exportRecords(third.snapshot);
    const resignMs = ms(t);
    const resignDiff = diffVersions(
      zoneVersion(second.snapshot.serial, next),
      zoneVersion(third.snapshot.serial, resigned),
    );
    return {
      domains: domains === 0 ? 'seeded zone' : domains,
      algorithm,
      unsigned,
      signed: signedAxfr,
      rrsigs: records.filter((r) => r.type === 46).length,
      nsecs: records.filter((r) => r.type === 47).length,
      buildMs,
      firstSignMs: signMs,
      longestHoldMs: Math.round(held * 10) / 10,
      journalVersionMs: versionMs,
      journalVersionBytes: journalBytes,
      oneDomainAdded: {
        exportMs: nextMs,
        ixfrRecords: diff.removed.length + diff.added.length + 4,
      },
      everySignatureDue: {
        exportMs: resignMs,
        ixfrRecords: resignDiff.removed.length + resignDiff.added.length + 4,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const n of sizes.length ? sizes : [0, 10_000]) results.push(await measure(n));
if (asJson) console.log(JSON.stringify(results, null, 1));
else
  for (const r of results)
    console.log(
      `${r.domains} (${r.algorithm}): AXFR unsigned ${r.unsigned.records} records ${r.unsigned.bytes} B ` +
        `(journal version ${r.unsigned.journalVersionBytes} B) ` +
        `→ signed ${r.signed.records} records ${r.signed.bytes} B in ${r.signed.messages} messages ` +
        `(${r.rrsigs} RRSIG, ${r.nsecs} NSEC); build ${r.buildMs} ms, first signing ${r.firstSignMs} ms ` +
        `(event loop held ≤ ${r.longestHoldMs} ms), journal version ${r.journalVersionBytes} B in ${r.journalVersionMs} ms; ` +
        `+1 domain: export ${r.oneDomainAdded.exportMs} ms, IXFR ${r.oneDomainAdded.ixfrRecords} records; ` +
        `all due: export ${r.everySignatureDue.exportMs} ms, IXFR ${r.everySignatureDue.ixfrRecords} records`,
    );
