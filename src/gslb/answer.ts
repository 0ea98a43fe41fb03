// The dynamic answer for a base name: A/AAAA from the domain's GSLB decision per family,
// NODATA for other types and for a family with nothing to offer (never NXDOMAIN: the name
// exists). A CNAME to the origin's host is answered only while the last resort is the
// origin and neither family has an address, and then for every type: a CNAME owner holds
// no other data (RFC 1034 §3.6.2, RFC 2181 §10.1).
import { RRClass, RRType } from '../wire/constants.js';
import { encodeName } from '../wire/name.js';
import type { ResourceRecord } from '../wire/record.js';
import type { DynamicAnswer } from '../zone/lookup.js';
import type { DomainPlan } from './plan.js';
import type { GslbView } from './pools.js';
import { decide, type Decision } from './decide.js';
import type { Location } from './location.js';
import type { HealthClock } from './health-bound.js';

/** What answering needs from the query: the snapshot, the client's location, and a sink for decisions. */
export interface GslbRequest {
  readonly snapshot: GslbView;
  /**
   * The client's location as the domain sees it (ECS on or off), computed once per query;
   * undefined for the location-free view (zone export, secondaries).
   */
  locate(useEcs: boolean): Location | undefined;
  /** Health bounds and the query's time; undefined: the plans' TTLs as they are. */
  clock(): HealthClock | undefined;
  /** Called once per decision: metrics and the response's ECS scope. */
  decided(decision: Decision): void;
}

function records(plan: DomainPlan, type: number, d: Decision | undefined): ResourceRecord[] {
  if (!d) return [];
  return d.rdata.map((rdata) => ({ name: plan.owner, type, class: RRClass.IN, ttl: d.ttl, rdata }));
}

export function answerBaseName(
  req: GslbRequest,
  plan: DomainPlan,
  qtype: number,
  minimalAny: boolean,
): DynamicAnswer {
  const host = plan.lastResort === 'backup' ? plan.fallbackHost : undefined;
  const index = req.snapshot.gslb;
  const loc = req.locate(plan.ecs);
  const clock = req.clock();
  const run = (family: 4 | 6) => {
    const d = decide(index, plan, family, loc, undefined, clock);
    req.decided(d);
    return d;
  };
  // Each family is decided at most once per query; a host-only origin needs both, since
  // the name is a CNAME exactly while neither family has an address.
  const v4 = qtype === RRType.A || qtype === RRType.ANY || host ? run(4) : undefined;
  const v6 = qtype === RRType.AAAA || qtype === RRType.ANY || host ? run(6) : undefined;
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
export function dynamicResolver(req: GslbRequest, minimalAny: boolean) {
  const plans = req.snapshot.plans;
  return {
    dynamic: (name: string, qtype: number): DynamicAnswer => {
      const plan = plans.get(name);
      return plan ? answerBaseName(req, plan, qtype, minimalAny) : undefined;
    },
    dynamicExists: (name: string): boolean => plans.has(name),
  };
}

/** The view of a client with no location: the default pool's picks (zone export, API). */
export function locationFree(snapshot: GslbView): GslbRequest {
  return {
    snapshot,
    locate: () => undefined,
    clock: () => undefined,
    decided: () => undefined,
  };
}
