// Static records: the zone lookup proper (exact names, CNAME chains, wildcards,
// delegations), reaching base names through the GSLB layer when a chain leads there.
import { lookup } from '../zone/lookup.js';
import { dynamicResolver } from '../gslb/answer.js';
import type { Outcome } from './outcome.js';
import type { QueryContext } from './context.js';

export function staticRecords(ctx: QueryContext): Outcome {
  const zone = ctx.zone;
  if (!zone) return { kind: 'refused' };
  const minimalAny = ctx.query.transport === 'udp';
  const r = lookup(zone, ctx.query.qname, ctx.query.qtype, {
    minimalAny,
    ...dynamicResolver(ctx, minimalAny),
  });
  switch (r.kind) {
    case 'answer':
      return {
        kind: 'answer',
        response: {
          rcode: 0,
          authoritative: true,
          answer: r.answer,
          authority: [],
          additional: r.additional,
        },
      };
    case 'referral':
      // RFC 1034 §4.3.2 step 3b: a referral is not authoritative data.
      return {
        kind: 'answer',
        response: {
          rcode: 0,
          authoritative: false,
          answer: r.answer,
          authority: r.authority,
          additional: r.additional,
        },
      };
    case 'nodata':
    case 'nxdomain':
      return { kind: r.kind, zone, chain: r.answer };
  }
}
