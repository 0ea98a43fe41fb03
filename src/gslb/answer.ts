// The dynamic answer for a base name: A/AAAA from the domain's edge selection, the
// origin's addresses (or a CNAME to its host) when no edge is up, NODATA for other types
// and for a family with nothing to offer (never NXDOMAIN: the name exists).
import { RRClass, RRType } from '../dns/constants.js';
import { encodeName } from '../dns/name-wire.js';
import type { ResourceRecord } from '../zone/record.js';
import type { DynamicAnswer } from '../zone/lookup.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { select, type DomainPlan } from './plan.js';

function familyRecords(
  snapshot: Snapshot,
  plan: DomainPlan,
  type: number,
): ResourceRecord[] | 'cname' {
  const sel = select(plan, type === RRType.A ? snapshot.v4 : snapshot.v6);
  if (sel.source === 'none') return plan.fallbackHost ? 'cname' : [];
  return sel.rdata.map((rdata) => ({
    name: plan.owner,
    type,
    class: RRClass.IN,
    ttl: sel.ttl,
    rdata,
  }));
}

function cnameToOrigin(plan: DomainPlan, ttl: number): ResourceRecord {
  return {
    name: plan.owner,
    type: RRType.CNAME,
    class: RRClass.IN,
    ttl,
    rdata: encodeName(plan.fallbackHost as string),
  };
}

export function answerBaseName(
  snapshot: Snapshot,
  plan: DomainPlan,
  qtype: number,
  minimalAny: boolean,
): DynamicAnswer {
  if (qtype === RRType.A || qtype === RRType.AAAA) {
    const recs = familyRecords(snapshot, plan, qtype);
    if (recs === 'cname') return { records: [cnameToOrigin(plan, plan.failoverTtl)] };
    return recs.length ? { records: recs } : 'nodata';
  }
  if (qtype === RRType.ANY || qtype === RRType.CNAME) {
    const a = familyRecords(snapshot, plan, RRType.A);
    if (a === 'cname') return { records: [cnameToOrigin(plan, plan.failoverTtl)] };
    if (qtype === RRType.CNAME) return 'nodata';
    const aaaa = minimalAny && a.length ? [] : familyRecords(snapshot, plan, RRType.AAAA);
    const records = [...a, ...(aaaa === 'cname' ? [] : aaaa)];
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
