// RFC 1035 zone text of a snapshot: the static zone plus, for each base name, the
// answer a client with no location gets now. This is the "last known good" view that
// named-checkzone accepts and secondaries can serve. In a signed zone it is signed whole
// (dnssec/zone-signing.ts: RRSIGs and an NSEC chain) at the snapshot's build time, with
// the snapshot's keys; signatures of unchanged RRsets carry over from the previous version.
import { RRType } from '../wire/constants.js';
import { fqdn } from '../lib/dnsname.js';
import { answerBaseName, locationFree } from '../gslb/answer.js';
import type { Snapshot } from './snapshot.js';
import type { DomainPlan } from '../gslb/plan.js';
import { formatRecord, type ResourceRecord } from '../wire/record.js';
import { canonicalSort } from '../zone/zone-data.js';
import { signZoneSteps } from '../dnssec/zone-signing.js';
import { drive } from '../lib/cooperative.js';
import { BUILD_CHUNK, runSteps } from './steps.js';

/**
 * Snapshots are immutable: their export is computed once (the journal, then each transfer).
 * The first export stored wins, so every reader of one snapshot sees the same signatures.
 */
const exported = new WeakMap<Snapshot, readonly ResourceRecord[]>();

function remember(
  snapshot: Snapshot,
  records: readonly ResourceRecord[],
): readonly ResourceRecord[] {
  const first = exported.get(snapshot);
  if (first) return first;
  exported.set(snapshot, records);
  return records;
}

/** The export at once (the CLI, tests); a large signed zone holds the event loop meanwhile. */
export function exportRecords(snapshot: Snapshot): readonly ResourceRecord[] {
  return exported.get(snapshot) ?? remember(snapshot, runSteps(exportSteps(snapshot)));
}

/**
 * The export computed in slices that hand the event loop back (lib/cooperative.ts): what
 * the server's transfers, journal and API use, since signing a large zone takes seconds.
 */
export async function exportRecordsCooperatively(
  snapshot: Snapshot,
): Promise<readonly ResourceRecord[]> {
  return exported.get(snapshot) ?? remember(snapshot, await drive(exportSteps(snapshot)));
}

function* exportSteps(snapshot: Snapshot): Generator<void, readonly ResourceRecord[]> {
  const records = yield* unsignedExport(snapshot);
  const { signer, transferSignatures } = snapshot;
  if (!signer || !transferSignatures) return records;
  const signed = yield* signZoneSteps(
    {
      zone: snapshot.zone.name,
      records,
      nsecTtl: snapshot.zone.negativeTtl,
      nowSec: Math.floor(snapshot.builtAt / 1000),
    },
    signer.withCache(transferSignatures),
  );
  transferSignatures.seal();
  return signed;
}

function* unsignedExport(snapshot: Snapshot): Generator<void, ResourceRecord[]> {
  const out = [...snapshot.zone.records()];
  const plans = canonicalSort([...snapshot.plans.keys()]).map(
    (owner) => snapshot.plans.get(owner) as DomainPlan,
  );
  const req = locationFree(snapshot);
  let done = 0;
  for (const plan of plans) {
    if (++done % BUILD_CHUNK === 0) yield;
    for (const type of [RRType.A, RRType.AAAA]) {
      const ans = answerBaseName(req, plan, type, false);
      if (ans === undefined || ans === 'nodata') continue;
      for (const r of ans.records) {
        // The CNAME fallback answers both families; list it once.
        if (r.type === RRType.CNAME && type === RRType.AAAA) continue;
        out.push(r);
      }
    }
  }
  return out;
}

/** The zone as RFC 1035 text (`cirrus zone export`, GET /api/v1/zone). */
export function exportZone(snapshot: Snapshot): string {
  return zoneText(snapshot, exportRecords(snapshot));
}

export async function exportZoneCooperatively(snapshot: Snapshot): Promise<string> {
  return zoneText(snapshot, await exportRecordsCooperatively(snapshot));
}

function zoneText(snapshot: Snapshot, records: readonly ResourceRecord[]): string {
  const head = [
    `; zone ${fqdn(snapshot.zone.name)} serial ${snapshot.serial}`,
    `; exported ${new Date(snapshot.builtAt).toISOString()}; base names show the answer for a client with no location`,
    ...(snapshot.signer
      ? [
          '; signed: an RRSIG over every authoritative RRset and an NSEC chain (what secondaries serve)',
        ]
      : []),
    `$ORIGIN ${fqdn(snapshot.zone.name)}`,
  ];
  return [...head, ...records.map(formatRecord), ''].join('\n');
}
