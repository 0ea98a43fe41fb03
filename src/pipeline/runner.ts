// Runs the stages in order and turns the outcome into a Response. Negative answers get
// the zone's SOA in the authority section with the RFC 2308 §3 negative TTL. A stage
// that throws yields SERVFAIL for this query only; the caller counts it.
import { Rcode } from '../wire/constants.js';
import type { Response } from '../wire/encode.js';
import type { ResourceRecord } from '../wire/record.js';
import type { Outcome } from './outcome.js';
import type { QueryContext, Stage } from './context.js';

function bare(rcode: number, authoritative = false): Response {
  return { rcode, authoritative, answer: [], authority: [], additional: [] };
}

export function toResponse(outcome: Outcome): Response {
  switch (outcome.kind) {
    case 'answer':
      return outcome.response;
    case 'nxdomain':
    case 'nodata': {
      const soa = outcome.zone.soa;
      const zoneTtl = outcome.zone.negativeTtl;
      const ttl =
        outcome.negativeTtl === undefined ? zoneTtl : Math.min(zoneTtl, outcome.negativeTtl);
      const negative: ResourceRecord = { ...soa, ttl };
      return {
        rcode: outcome.kind === 'nxdomain' ? Rcode.NXDOMAIN : Rcode.NOERROR,
        authoritative: true,
        answer: outcome.chain,
        authority: [negative],
        additional: [],
        ...(outcome.ede ? { ede: outcome.ede } : {}),
      };
    }
    case 'refused':
      return outcome.ede ? { ...bare(Rcode.REFUSED), ede: outcome.ede } : bare(Rcode.REFUSED);
    case 'formerr':
      return bare(Rcode.FORMERR);
    case 'notimp':
      return bare(Rcode.NOTIMP);
    case 'notauth':
      return bare(Rcode.NOTAUTH);
    case 'badvers':
      return bare(Rcode.BADVERS);
    case 'servfail':
    case 'continue':
      return bare(Rcode.SERVFAIL);
  }
}

export function runStages(stages: readonly Stage[], ctx: QueryContext): Outcome {
  for (const stage of stages) {
    const outcome = stage(ctx);
    if (outcome.kind !== 'continue') return outcome;
  }
  // The static stage always settles a query; reaching here is a bug, not a client error.
  return { kind: 'servfail' };
}
