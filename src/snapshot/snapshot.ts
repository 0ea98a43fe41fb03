// The immutable snapshot every query reads: the zone's static data, the domains' answer
// plans keyed by base name, and the node pools with their hashing state. Built aside by
// build.ts, published by one assignment in manager.ts, never mutated once published
// (the per-domain order caches inside the pools only memoise pure functions).
import type { ZoneData } from '../zone/zone-data.js';
import type { DomainPlan, NodeEntry, OrderMemos } from '../gslb/plan.js';
import type { GslbIndex } from '../gslb/pools.js';
import type { HashCarry } from './content-hash.js';
import type { PlanSource } from './plans.js';
import type { StaticParse } from './zone-content.js';
import { isSubdomainOf } from '../lib/dnsname.js';
import type { ZoneSigner } from '../dnssec/signer.js';
import type { ZoneSignatures } from '../dnssec/signature-cache.js';

export interface Snapshot {
  /** Build sequence number within this process. */
  readonly generation: number;
  readonly serial: number;
  readonly contentHash: string;
  readonly builtAt: number;
  readonly zone: ZoneData;
  /** Base name (`<label>.<zone>`) → plan. */
  readonly plans: ReadonlyMap<string, DomainPlan>;
  /** Customer domain → plan. */
  readonly domains: ReadonlyMap<string, DomainPlan>;
  readonly nodes: readonly NodeEntry[];
  /** Pools, coverage indices, CIDR map and chain: what the GSLB decision reads. */
  readonly gslb: GslbIndex;
  /** The pools' memoised hash orders, handed on to the next build (gslb/plan.ts). */
  readonly orderMemos: OrderMemos;
  /** What the plans were compiled from, so the next build may keep them (plans.ts). */
  readonly planSource: PlanSource;
  /** The static zone text's parse, kept by the next build when the text is the same. */
  readonly statics: StaticParse | undefined;
  /** Where this content's digest may be continued from (content-hash.ts). */
  readonly hashCarry: HashCarry | undefined;
  /** Problems that did not stop the build (skipped records, label clashes). */
  readonly warnings: readonly string[];
  /** When the first challenge TXT value in the zone expires (ms): the next rebuild is due. */
  readonly nextExpiry?: number | undefined;
  /** Signs answers of a DNSSEC-signed zone; undefined when the zone is not signed. */
  readonly signer?: ZoneSigner | undefined;
  /** The signatures of the zone as transferred (export.ts); with `signer`. */
  readonly transferSignatures?: ZoneSignatures | undefined;
}

/** The zone that holds `qname`, if we are authoritative for it. */
export function zoneFor(snapshot: Snapshot, qname: string): ZoneData | undefined {
  return isSubdomainOf(qname, snapshot.zone.name) ? snapshot.zone : undefined;
}
