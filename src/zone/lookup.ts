// Authoritative lookup in one zone (RFC 1034 §4.3.2 steps 3a–3c, RFC 4592 wildcards):
// exact match, CNAME chasing inside the zone, referral at a zone cut, wildcard synthesis,
// NXDOMAIN/NODATA. Pure: the caller turns the result into a response. Names the GSLB
// answers dynamically are reached through `dynamic`, so a static CNAME can point at one.
import { RRType } from '../wire/constants.js';
import { decodeName } from '../wire/name.js';
import { isSubdomainOf, parentName } from '../lib/dnsname.js';
import type { ResourceRecord } from '../wire/record.js';
import type { RRsets, ZoneData } from './zone-data.js';

export type LookupResult =
  | { kind: 'answer'; answer: ResourceRecord[]; additional: ResourceRecord[] }
  | { kind: 'nodata'; answer: ResourceRecord[] }
  | { kind: 'nxdomain'; answer: ResourceRecord[] }
  | {
      kind: 'referral';
      answer: ResourceRecord[];
      authority: ResourceRecord[];
      additional: ResourceRecord[];
    };

/** What the dynamic (GSLB) layer says about a name: its records for the type, or nodata. */
export type DynamicAnswer = { records: ResourceRecord[] } | 'nodata' | undefined;

export interface LookupOptions {
  /** RFC 8482: answer ANY with one RRset (UDP) or everything (TCP). */
  minimalAny: boolean;
  dynamic?: (name: string, qtype: number) => DynamicAnswer;
  /** Whether a dynamic name exists, so it encloses (and blocks wildcards for) its subtree. */
  dynamicExists?: (name: string) => boolean;
}

const MAX_CHAIN = 8;

/** Preference for the one RRset a minimal ANY answer carries. */
const ANY_ORDER = [
  RRType.A,
  RRType.AAAA,
  RRType.CNAME,
  RRType.MX,
  RRType.TXT,
  RRType.NS,
  RRType.SOA,
];

function pickAny(sets: RRsets, minimal: boolean): ResourceRecord[] {
  if (!minimal) return [...sets.values()].flat();
  for (const t of ANY_ORDER) {
    const s = sets.get(t);
    if (s) return [...s];
  }
  const first = sets.values().next();
  return first.done ? [] : [...first.value];
}

/** Copies records onto another owner (wildcard synthesis, RFC 4592 §3.3.1). */
function rename(records: readonly ResourceRecord[], owner: string): ResourceRecord[] {
  return records.map((r) => ({ ...r, name: owner }));
}

function targetOf(rdataOwner: ResourceRecord, offset = 0): string {
  return decodeName(rdataOwner.rdata, offset).name;
}

/** A/AAAA for in-zone host names named in NS, MX and SRV rdata (RFC 1035 §3.3, glue). */
export function additionalFor(
  zone: ZoneData,
  records: readonly ResourceRecord[],
): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    let host: string | undefined;
    if (r.type === RRType.NS) host = targetOf(r);
    else if (r.type === RRType.MX) host = targetOf(r, 2);
    else if (r.type === RRType.SRV) host = targetOf(r, 6);
    if (host === undefined || seen.has(host) || !isSubdomainOf(host, zone.name)) continue;
    seen.add(host);
    const sets = zone.rrsets(host);
    out.push(...(sets.get(RRType.A) ?? []), ...(sets.get(RRType.AAAA) ?? []));
  }
  return out;
}

/** The zone cut `name` is at or below (the one closest to the apex), if any. */
export function findCut(zone: ZoneData, name: string): string | undefined {
  if (zone.cuts.size === 0) return undefined;
  // The cut closest to the apex wins: everything beneath it belongs to the child.
  let found: string | undefined;
  for (let p = name; p !== zone.name && p !== ''; p = parentName(p)) {
    if (zone.cuts.has(p)) found = p;
  }
  return found;
}

export function lookup(
  zone: ZoneData,
  qname: string,
  qtype: number,
  opts: LookupOptions,
): LookupResult {
  const chain: ResourceRecord[] = [];
  let name = qname;
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const cut = findCut(zone, name);
    // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): answered here, not referred.
    if (cut !== undefined && !(name === cut && qtype === RRType.DS)) {
      const ns = [...(zone.rrsets(cut).get(RRType.NS) ?? [])];
      if (hop > 0) return { kind: 'answer', answer: chain, additional: [] };
      return {
        kind: 'referral',
        answer: chain,
        authority: ns,
        additional: additionalFor(zone, ns),
      };
    }

    const dyn = opts.dynamic?.(name, qtype);
    if (dyn !== undefined) {
      if (dyn === 'nodata') return { kind: 'nodata', answer: chain };
      return { kind: 'answer', answer: [...chain, ...dyn.records], additional: [] };
    }

    let sets: RRsets | undefined;
    if (zone.has(name)) sets = zone.rrsets(name);
    else {
      // Closest encloser, then its wildcard (RFC 4592 §3.3.1).
      const exists = (n: string): boolean => zone.has(n) || (opts.dynamicExists?.(n) ?? false);
      let encloser = parentName(name);
      while (!exists(encloser) && encloser !== zone.name && encloser !== '')
        encloser = parentName(encloser);
      const source = `*.${encloser}`;
      if (!zone.has(source)) return { kind: 'nxdomain', answer: chain };
      const wild = zone.rrsets(source);
      sets = new Map([...wild].map(([t, rs]) => [t, rename(rs, name)]));
    }

    const cname = sets.get(RRType.CNAME);
    if (cname && qtype !== RRType.CNAME && qtype !== RRType.ANY) {
      chain.push(...cname);
      const target = targetOf(cname[0] as ResourceRecord);
      // Out-of-zone targets, and loops, are left for the resolver to follow.
      if (!isSubdomainOf(target, zone.name) || chain.some((r) => r.name === target)) {
        return { kind: 'answer', answer: chain, additional: [] };
      }
      name = target;
      continue;
    }
    const records =
      qtype === RRType.ANY ? pickAny(sets, opts.minimalAny) : [...(sets.get(qtype) ?? [])];
    if (records.length === 0) return { kind: 'nodata', answer: chain };
    return {
      kind: 'answer',
      answer: [...chain, ...records],
      additional: additionalFor(zone, records),
    };
  }
  return { kind: 'answer', answer: chain, additional: [] };
}
