// Guard: rejects what no later stage should see. EDNS version first (RFC 6891 §6.1.3
// answers BADVERS whatever else the query says), then opcode, class and meta types.
// A NOTIFY or UPDATE no exchange claimed is NOTAUTH for a zone we do not serve (RFC 1996
// §3.10 and RFC 2136 §3.1.1 name the zone; it is not ours), NOTIMP otherwise.
import { Opcode, RRClass, RRType } from '../wire/constants.js';
import { CONTINUE, REFUSED, type Outcome } from './outcome.js';
import type { QueryContext } from './context.js';
import { zoneFor } from '../snapshot/snapshot.js';

const FORMERR: Outcome = { kind: 'formerr' };
const NOTIMP: Outcome = { kind: 'notimp' };
const NOTAUTH: Outcome = { kind: 'notauth' };

export function guard(ctx: QueryContext): Outcome {
  const q = ctx.query;
  if (q.edns && q.edns.version > 0) return { kind: 'badvers' };
  if (q.opcode !== Opcode.QUERY) {
    const zoneChange = q.opcode === Opcode.NOTIFY || q.opcode === Opcode.UPDATE;
    return zoneChange && !zoneFor(ctx.snapshot, q.qname) ? NOTAUTH : NOTIMP;
  }
  if (q.qclass !== RRClass.IN && q.qclass !== RRClass.CH && q.qclass !== RRClass.ANY)
    return REFUSED;
  switch (q.qtype) {
    case RRType.OPT:
    case RRType.TSIG:
    case 249: // TKEY
      return FORMERR;
    case RRType.AXFR:
      // Transfers are claimed by the hidden master before the pipeline (xfr/transfer.ts);
      // these answers stand when no exchange handler is registered. RFC 5936 §4.2: TCP only.
      return q.transport === 'udp' ? FORMERR : REFUSED;
    case RRType.IXFR:
      return REFUSED;
    case RRType.MAILA:
    case RRType.MAILB:
      return NOTIMP;
    default:
      return CONTINUE;
  }
}
