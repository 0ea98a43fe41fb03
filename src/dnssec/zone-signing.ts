// A whole zone signed for a secondary that serves it as it is (NSD): an RRSIG over every
// authoritative RRset and a real NSEC chain (RFC 4035 §2.2, §2.3), not compact denial,
// since a static server proves nonexistence from the chain. The chain links every
// authoritative owner in canonical order (RFC 4034 §6.1) and wraps to the apex; a
// delegation point is in it with NS (and DS) in its bitmap. A delegation's NS set and the
// names below a cut (glue) are not authoritative: unsigned, and outside the chain.
// Empty non-terminals hold no records and get no NSEC (the NSEC before them covers them).
import { RRClass, RRType } from '../wire/constants.js';
import type { ResourceRecord } from '../wire/record.js';
import { isSubdomainOf, parentName } from '../lib/dnsname.js';
import { canonicalSort } from '../zone/zone-data.js';
import { nameWire, nsecRdata } from './records.js';
import type { SignatureStore } from './signature-cache.js';
import type { ZoneSigner } from './signer.js';

export interface ZoneToSign {
  /** The apex (internal text form). */
  readonly zone: string;
  /** Every record of the zone, SOA included, in any order; RRSIG and NSEC are ignored. */
  readonly records: readonly ResourceRecord[];
  /** TTL of the NSEC records: the SOA's negative TTL (RFC 4034 §4, RFC 9077). */
  readonly nsecTtl: number;
  /** Signing time, seconds since the epoch. */
  readonly nowSec: number;
}

/** Owners signed between two yields of signZoneSteps (a few signatures each). */
const OWNERS_PER_STEP = 16;

/** The zone's records with RRSIGs and the NSEC chain, owners in canonical order, SOA first. */
export function signZone<C extends SignatureStore>(
  input: ZoneToSign,
  signer: ZoneSigner<C>,
): ResourceRecord[] {
  const steps = signZoneSteps(input, signer);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** signZone in steps: yields every OWNERS_PER_STEP owners (lib/cooperative.ts drives it). */
export function* signZoneSteps<C extends SignatureStore>(
  input: ZoneToSign,
  signer: ZoneSigner<C>,
): Generator<void, ResourceRecord[]> {
  const { zone, nowSec } = input;
  const owners = new Map<string, Map<number, ResourceRecord[]>>();
  for (let i = 0; i < input.records.length; i++) {
    if (i % (OWNERS_PER_STEP * 256) === 0) yield;
    const r = input.records[i] as ResourceRecord;
    if (r.type === RRType.RRSIG || r.type === RRType.NSEC) continue;
    if (!isSubdomainOf(r.name, zone)) throw new Error(`${r.name} is outside the zone ${zone}`);
    let sets = owners.get(r.name);
    if (!sets) owners.set(r.name, (sets = new Map()));
    const set = sets.get(r.type);
    if (!set) sets.set(r.type, [r]);
    else if (!set.some((x) => x.rdata.equals(r.rdata))) set.push(r);
  }
  if (!owners.get(zone)?.has(RRType.SOA)) throw new Error(`the zone ${zone} has no SOA to sign`);

  const cuts = new Set<string>();
  for (const [name, sets] of owners) if (name !== zone && sets.has(RRType.NS)) cuts.add(name);
  const belowCut = (name: string): boolean => {
    for (let p = parentName(name); p !== zone && p !== ''; p = parentName(p))
      if (cuts.has(p)) return true;
    return false;
  };

  const names = canonicalSort([...owners.keys()]);
  const chain = names.filter((n) => !belowCut(n));
  const out: ResourceRecord[] = [];
  let link = 0;
  let done = 0;
  for (const name of names) {
    if (++done % OWNERS_PER_STEP === 0) yield;
    const sets = owners.get(name) as Map<number, ResourceRecord[]>;
    const types = [...sets.keys()].sort((a, b) =>
      a === RRType.SOA ? -1 : b === RRType.SOA ? 1 : a - b,
    );
    if (belowCut(name)) {
      for (const t of types) out.push(...(sets.get(t) as ResourceRecord[]));
      continue;
    }
    const cut = cuts.has(name);
    for (const t of types) {
      const set = sets.get(t) as ResourceRecord[];
      out.push(...set);
      // At a cut only the DS is the parent's (RFC 4035 §2.2).
      if (cut && t !== RRType.DS) continue;
      const first = set[0] as ResourceRecord;
      out.push(
        ...signer.sign(
          name,
          t,
          first.ttl,
          first.ttl,
          set.map((r) => r.rdata),
          nowSec,
        ),
      );
    }
    link++;
    const next = chain[link % chain.length] as string;
    // Other data at a cut is occluded by the delegation: the bitmap lists NS and DS.
    const present = cut ? types.filter((t) => t === RRType.NS || t === RRType.DS) : types;
    const rdata = nsecRdata(nameWire(next), [...present, RRType.RRSIG, RRType.NSEC]);
    out.push({ name, type: RRType.NSEC, class: RRClass.IN, ttl: input.nsecTtl, rdata });
    out.push(...signer.sign(name, RRType.NSEC, input.nsecTtl, input.nsecTtl, [rdata], nowSec));
  }
  return out;
}
