// The dynamic answer for a base name: A/AAAA from the domain's edge selection, the
// origin's addresses when no edge of a family is up, NODATA for other types and for a
// family with nothing to offer (never NXDOMAIN: the name exists). A CNAME to the origin's
// host is answered only while neither family has an address, and then for every type:
// a CNAME owner holds no other data (RFC 1034 §3.6.2, RFC 2181 §10.1).
import { RRClass, RRType } from '../dns/constants.js';
import { encodeName } from '../dns/name-wire.js';
import type { ResourceRecord } from '../zone/record.js';
import type { DynamicAnswer } from '../zone/lookup.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { select, type DomainPlan } from './plan.js';

function familyRecords(snapshot: Snapshot, plan: DomainPlan, type: number): ResourceRecord[] {
  const sel = select(plan, type === RRType.A ? snapshot.v4 : snapshot.v6);
  return sel.rdata.map((rdata) => ({
    name: plan.owner,
    type,
    class: RRClass.IN,
    ttl: sel.ttl,
    rdata,
  }));
}

/** The CNAME to the origin host when the name is one now: no address in either family. */
function originCname(snapshot: Snapshot, plan: DomainPlan): ResourceRecord | undefined {
  // fallbackHost is set only for domains without origin addresses, so "nothing to offer"
  // means no active edge of that family.
  if (!plan.fallbackHost) return undefined;
  if (select(plan, snapshot.v4).source !== 'none') return undefined;
  if (select(plan, snapshot.v6).source !== 'none') return undefined;
  return {
    name: plan.owner,
    type: RRType.CNAME,
    class: RRClass.IN,
    ttl: plan.failoverTtl,
    rdata: encodeName(plan.fallbackHost),
  };
}

export function answerBaseName(
  snapshot: Snapshot,
  plan: DomainPlan,
  qtype: number,
  minimalAny: boolean,
): DynamicAnswer {
  const cname = originCname(snapshot, plan);
  if (cname) return { records: [cname] };
  if (qtype === RRType.A || qtype === RRType.AAAA) {
    const recs = familyRecords(snapshot, plan, qtype);
    return recs.length ? { records: recs } : 'nodata';
  }
  if (qtype === RRType.ANY) {
    const a = familyRecords(snapshot, plan, RRType.A);
    const aaaa = minimalAny && a.length ? [] : familyRecords(snapshot, plan, RRType.AAAA);
    const records = [...a, ...aaaa];
    return records.length ? { records } : 'nodata';
  }
  return 'nodata';
}

/** The dynamic layer for the zone lookup: base names answer here, all else is static. */
export function dynamicResolver(snapshot: Snapshot, minimalAny: boolean) {
  return {
    dynamic: (name: string, qtype: number): DynamicAnswer => {
      const plan = snapshot.plans.get(name);
      return plan ? answerBaseName(snapshot, plan, qtype, minimalAny) : undefined;
    },
    dynamicExists: (name: string): boolean => snapshot.plans.has(name),
  };
}
