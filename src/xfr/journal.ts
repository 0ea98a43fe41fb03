// The IXFR journal (RFC 1995): each zone version as secondaries see it (the static view of
// snapshot/export.ts, SOA apart) and the differences between consecutive versions. Records are
// kept as stable text keys ("owner type class ttl rdata-hex") so versions compare as sets
// and any instance sharing the store can replay them. Pure functions; the store keeps the data.
import { RRType } from '../wire/constants.js';
import type { ResourceRecord } from '../wire/record.js';
import { drive } from '../lib/cooperative.js';

/** A zone version as stored: its serial, its SOA record and every other record, sorted. */
export interface ZoneVersion {
  serial: number;
  soa: string;
  records: string[];
}

/** One serial change: the records to delete and to add (RFC 1995 §4). */
export interface JournalEntry {
  from: number;
  to: number;
  fromSoa: string;
  toSoa: string;
  removed: string[];
  added: string[];
}

/** Records are immutable and static ones outlive snapshots: each is keyed once. */
const keys = new WeakMap<ResourceRecord, string>();

export function recordKey(r: ResourceRecord): string {
  let k = keys.get(r);
  if (k === undefined) {
    k = `${r.name} ${r.type} ${r.class} ${r.ttl} ${r.rdata.toString('hex')}`;
    keys.set(r, k);
  }
  return k;
}

export function recordFromKey(key: string): ResourceRecord {
  const [name, type, cls, ttl, hex] = key.split(' ');
  if (name === undefined || hex === undefined) throw new Error(`bad journal record "${key}"`);
  return {
    name,
    type: Number(type),
    class: Number(cls),
    ttl: Number(ttl),
    rdata: Buffer.from(hex, 'hex'),
  };
}

export function zoneVersion(serial: number, records: readonly ResourceRecord[]): ZoneVersion {
  const steps = zoneVersionSteps(serial, records);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** zoneVersion in slices that hand the event loop back: a signed zone has many records. */
export function zoneVersionCooperatively(
  serial: number,
  records: readonly ResourceRecord[],
): Promise<ZoneVersion> {
  return drive(zoneVersionSteps(serial, records));
}

/** Records keyed between two yields. */
const KEYS_PER_STEP = 2048;

function* zoneVersionSteps(
  serial: number,
  records: readonly ResourceRecord[],
): Generator<void, ZoneVersion> {
  const soa = records.find((r) => r.type === RRType.SOA);
  if (!soa) throw new Error('a zone version needs its SOA');
  const rest: string[] = [];
  for (let i = 0; i < records.length; i++) {
    if (i % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
    const r = records[i] as ResourceRecord;
    if (r.type !== RRType.SOA) rest.push(recordKey(r));
  }
  return { serial, soa: recordKey(soa), records: [...new Set(rest)].sort() };
}

export function diffVersions(from: ZoneVersion, to: ZoneVersion): JournalEntry {
  const before = new Set(from.records);
  const after = new Set(to.records);
  return {
    from: from.serial,
    to: to.serial,
    fromSoa: from.soa,
    toSoa: to.soa,
    removed: from.records.filter((k) => !after.has(k)),
    added: to.records.filter((k) => !before.has(k)),
  };
}

/**
 * The entries that take a secondary at `from` to exactly `to`, in order, or undefined when
 * the journal does not reach that far back (or forks): the caller then sends the whole zone.
 */
export function journalPath(
  journal: readonly JournalEntry[],
  from: number,
  to: number,
): JournalEntry[] | undefined {
  const start = journal.findIndex((e) => e.from === from);
  if (start < 0) return undefined;
  const path: JournalEntry[] = [];
  let at = from;
  for (let i = start; i < journal.length; i++) {
    const e = journal[i] as JournalEntry;
    if (e.from !== at) return undefined;
    path.push(e);
    at = e.to;
    if (at === to) return path;
  }
  return undefined;
}
