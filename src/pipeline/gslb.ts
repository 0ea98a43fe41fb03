// GSLB answers for base names (`<label>.<zone>`): the hot path, answered straight from
// the domain's plan without a zone lookup. CNAME chains from static names into base
// names go through the static stage, which calls the same code.
import { answerBaseName } from '../gslb/answer.js';
import { CONTINUE, type Outcome } from './outcome.js';
import { Ede, type ExtendedError } from '../wire/encode.js';

/** RFC 8914 code 0 (Other): the name exists, nothing healthy answers for it (fail-closed). */
const NO_HEALTHY: ExtendedError = { code: Ede.OTHER, text: 'no healthy node' };
import type { QueryContext } from './context.js';

export function gslb(ctx: QueryContext): Outcome {
  const plan = ctx.snapshot.plans.get(ctx.query.qname);
  if (!plan || !ctx.zone) return CONTINUE;
  const minimalAny = ctx.query.transport === 'udp';
  const result = answerBaseName(ctx, plan, ctx.query.qtype, minimalAny);
  if (result === undefined || result === 'nodata') {
    // An empty answer from a decision holds only as long as the decision (its TTL).
    const negativeTtl = ctx.gslbTtl === Infinity ? {} : { negativeTtl: ctx.gslbTtl };
    return ctx.noHealthy
      ? { kind: 'nodata', zone: ctx.zone, chain: [], ede: NO_HEALTHY, ...negativeTtl }
      : { kind: 'nodata', zone: ctx.zone, chain: [], ...negativeTtl };
  }
  return {
    kind: 'answer',
    response: {
      rcode: 0,
      authoritative: true,
      answer: result.records,
      authority: [],
      additional: [],
    },
  };
}
