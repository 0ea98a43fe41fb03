// Debug names in class CHAOS, as BIND, NSD and Knot answer them: version.bind /
// version.server, id.server / hostname.bind. Anything else in CHAOS is refused.
import { RRClass, RRType } from '../wire/constants.js';
import { CONTINUE, REFUSED, type Outcome } from './outcome.js';
import type { QueryContext } from './context.js';

export function chaos(ctx: QueryContext): Outcome {
  const q = ctx.query;
  if (q.qclass !== RRClass.CH) return CONTINUE;
  let value: Buffer | null = null;
  if (q.qname === 'version.bind' || q.qname === 'version.server') value = ctx.settings.version;
  else if (q.qname === 'id.server' || q.qname === 'hostname.bind') value = ctx.settings.identity;
  else return REFUSED;
  if (value === null) return REFUSED;
  if (q.qtype !== RRType.TXT && q.qtype !== RRType.ANY) {
    return {
      kind: 'answer',
      response: { rcode: 0, authoritative: true, answer: [], authority: [], additional: [] },
    };
  }
  const record = { name: q.qname, type: RRType.TXT, class: RRClass.CH, ttl: 0, rdata: value };
  return {
    kind: 'answer',
    response: { rcode: 0, authoritative: true, answer: [record], authority: [], additional: [] },
  };
}
