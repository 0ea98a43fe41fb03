// Debug names in class CHAOS, as BIND, NSD and Knot answer them: version.bind /
// version.server, id.server / hostname.bind. Anything else in CHAOS is refused.
import { RRClass, RRType } from '../dns/constants.js';
import { CONTINUE, REFUSED, type Outcome } from './outcome.js';
import type { QueryContext } from './context.js';

function txt(text: string): Buffer {
  const chunks: Buffer[] = [];
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const part = bytes.subarray(i, i + 255);
    chunks.push(Buffer.from([part.length]), part);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(chunks);
}

export function chaos(ctx: QueryContext): Outcome {
  const q = ctx.query;
  if (q.qclass !== RRClass.CH) return CONTINUE;
  let value: string | null = null;
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
  const record = { name: q.qname, type: RRType.TXT, class: RRClass.CH, ttl: 0, rdata: txt(value) };
  return {
    kind: 'answer',
    response: { rcode: 0, authoritative: true, answer: [record], authority: [], additional: [] },
  };
}
