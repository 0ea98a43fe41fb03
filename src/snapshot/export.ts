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
import { signZone } from '../dnssec/zone-signing.js';

/** Snapshots are immutable: their export is computed once (the journal, then each transfer). */
const exported = new WeakMap<Snapshot, readonly ResourceRecord[]>();

export function exportRecords(snapshot: Snapshot): readonly ResourceRecord[] {
  let records = exported.get(snapshot);
  if (!records) {
    records = computeExport(snapshot);
    exported.set(snapshot, records);
  }
  return records;
}

function computeExport(snapshot: Snapshot): ResourceRecord[] {
  const records = unsignedExport(snapshot);
  const { signer, transferSignatures } = snapshot;
  if (!signer || !transferSignatures) return records;
  const signed = signZone(
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

function unsignedExport(snapshot: Snapshot): ResourceRecord[] {
  const out = [...snapshot.zone.records()];
  const plans = canonicalSort([...snapshot.plans.keys()]).map(
    (owner) => snapshot.plans.get(owner) as DomainPlan,
  );
  const req = locationFree(snapshot);
  for (const plan of plans) {
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

export function exportZone(snapshot: Snapshot): string {
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
  return [...head, ...exportRecords(snapshot).map(formatRecord), ''].join('\n');
}
