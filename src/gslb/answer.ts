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
import { select, type DomainPlan, type Selection } from './plan.js';

function records(plan: DomainPlan, type: number, sel: Selection | undefined): ResourceRecord[] {
  if (!sel) return [];
  return sel.rdata.map((rdata) => ({
    name: plan.owner,
    type,
    class: RRClass.IN,
    ttl: sel.ttl,
    rdata,
  }));
}

export function answerBaseName(
  snapshot: Snapshot,
  plan: DomainPlan,
  qtype: number,
  minimalAny: boolean,
): DynamicAnswer {
  const host = plan.fallbackHost;
  // Each family is selected at most once per query; a host-only origin needs both, since
  // the name is a CNAME exactly while neither family has an address. fallbackHost is set
  // only for domains without origin addresses, so 'none' means no active edge.
  const v4 =
    qtype === RRType.A || qtype === RRType.ANY || host ? select(plan, snapshot.v4) : undefined;
  const v6 =
    qtype === RRType.AAAA || qtype === RRType.ANY || host ? select(plan, snapshot.v6) : undefined;
  if (host && v4?.source === 'none' && v6?.source === 'none') {
    const cname = {
      name: plan.owner,
      type: RRType.CNAME,
      class: RRClass.IN,
      ttl: plan.failoverTtl,
      rdata: encodeName(host),
    };
    return { records: [cname] };
  }
  let answer: ResourceRecord[] = [];
  if (qtype === RRType.A) answer = records(plan, RRType.A, v4);
  else if (qtype === RRType.AAAA) answer = records(plan, RRType.AAAA, v6);
  else if (qtype === RRType.ANY) {
    answer = records(plan, RRType.A, v4);
    if (!(minimalAny && answer.length)) answer = answer.concat(records(plan, RRType.AAAA, v6));
  }
  return answer.length ? { records: answer } : 'nodata';
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
