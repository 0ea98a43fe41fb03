// One authoritative zone's static data, indexed for lookup: owner → type → RRset, with
// empty non-terminals present (RFC 4592 §2.2.2) and delegation points known. Built once
// per snapshot and never changed after the snapshot is published.
import { RRType, typeName } from '../wire/constants.js';
import { isSubdomainOf, parentName } from '../lib/dnsname.js';
import { ZoneError } from '../lib/errors.js';
import type { ResourceRecord } from '../wire/record.js';

export type RRsets = ReadonlyMap<number, readonly ResourceRecord[]>;

const EMPTY: RRsets = new Map();

export class ZoneData {
  readonly name: string;
  private readonly owners = new Map<string, Map<number, ResourceRecord[]>>();
  /** Owners below the apex that hold NS: zone cuts (RFC 1034 §4.2.1). */
  readonly cuts = new Set<string>();
  private soaRecord: ResourceRecord;

  constructor(name: string, soa: ResourceRecord, records: readonly ResourceRecord[]) {
    this.name = name;
    this.soaRecord = soa;
    this.add(soa);
    for (const r of records) this.add(r);
    this.check();
  }

  get soa(): ResourceRecord {
    return this.soaRecord;
  }

  /** Sets the final SOA (with its serial) before the snapshot is published. */
  replaceSoa(soa: ResourceRecord): void {
    this.soaRecord = soa;
    (this.owners.get(this.name) as Map<number, ResourceRecord[]>).set(RRType.SOA, [soa]);
  }

  /** RFC 2308 §5: negative answers are cached for min(SOA TTL, SOA MINIMUM). */
  get negativeTtl(): number {
    const rd = this.soaRecord.rdata;
    return Math.min(this.soaRecord.ttl, rd.readUInt32BE(rd.length - 4));
  }

  private add(r: ResourceRecord): void {
    if (!isSubdomainOf(r.name, this.name)) {
      throw new ZoneError(`${r.name} ${typeName(r.type)} is outside the zone ${this.name}`);
    }
    let sets = this.owners.get(r.name);
    if (!sets) {
      sets = new Map();
      this.owners.set(r.name, sets);
      // Empty non-terminals between the owner and the apex exist for lookups.
      for (let p = r.name; p !== this.name;) {
        p = parentName(p);
        if (!this.owners.has(p)) this.owners.set(p, new Map());
      }
    }
    let set = sets.get(r.type);
    if (!set) {
      set = [];
      sets.set(r.type, set);
    }
    if (set.some((x) => x.rdata.equals(r.rdata))) return;
    // RFC 2181 §5.2: all records of an RRset share one TTL; the first one wins.
    const ttl = set[0]?.ttl ?? r.ttl;
    set.push(ttl === r.ttl ? r : { ...r, ttl });
    if (r.type === RRType.NS && r.name !== this.name) this.cuts.add(r.name);
  }

  private check(): void {
    for (const [owner, sets] of this.owners) {
      if (sets.has(RRType.CNAME)) {
        if (owner === this.name)
          throw new ZoneError(`CNAME at the zone apex ${owner} is not allowed`);
        if (sets.size > 1)
          throw new ZoneError(`${owner} has a CNAME and other data (RFC 1034 §3.6.2)`);
        if ((sets.get(RRType.CNAME) as ResourceRecord[]).length > 1) {
          throw new ZoneError(`${owner} has more than one CNAME`);
        }
      }
    }
  }

  has(name: string): boolean {
    return this.owners.has(name);
  }

  rrsets(name: string): RRsets {
    return this.owners.get(name) ?? EMPTY;
  }

  /** All records in canonical order (apex first), for export and transfers. */
  *records(): Generator<ResourceRecord> {
    const names = canonicalSort([...this.owners.keys()]);
    for (const name of names) {
      const sets = this.owners.get(name) as Map<number, ResourceRecord[]>;
      const types = [...sets.keys()].sort((a, b) =>
        a === RRType.SOA ? -1 : b === RRType.SOA ? 1 : a - b,
      );
      for (const t of types) yield* sets.get(t) as ResourceRecord[];
    }
  }

  get size(): number {
    let n = 0;
    for (const sets of this.owners.values()) for (const s of sets.values()) n += s.length;
    return n;
  }
}

/**
 * Sorts names in canonical order with one sort key per name (labels from the right, joined
 * by NUL, which sorts below every label octet): the same order as canonicalCompare, without
 * splitting both names on every comparison.
 */
export function canonicalSort(names: string[]): string[] {
  const keyed = names.map((n) => ({ n, k: n === '' ? '' : n.split('.').reverse().join('\0') }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return keyed.map((e) => e.n);
}

/** RFC 4034 §6.1 canonical order (by labels from the right), close enough for text names. */
export function canonicalCompare(a: string, b: string): number {
  const la = a === '' ? [] : a.split('.').reverse();
  const lb = b === '' ? [] : b.split('.').reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    const x = la[i] as string;
    const y = lb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return la.length - lb.length;
}
