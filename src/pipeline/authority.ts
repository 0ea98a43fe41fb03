// Zone authority: we answer only inside our zones (REFUSED elsewhere, as NSD and Knot
// do for an authoritative-only server), and remember the zone for later stages.
import { zoneFor } from '../snapshot/snapshot.js';
import { CONTINUE, NOT_AUTHORITATIVE, type Outcome } from './outcome.js';
import type { QueryContext } from './context.js';

export function authority(ctx: QueryContext): Outcome {
  const zone = zoneFor(ctx.snapshot, ctx.query.qname);
  if (!zone) return NOT_AUTHORITATIVE;
  ctx.zone = zone;
  return CONTINUE;
}
