// Debug names answered over DNS, so an operator needs nothing but dig:
//   whoami.<zone> TXT          — the resolver address, the ECS subnet and the location found;
//   _explain.<base name> TXT   — the whole GSLB decision for that client (see gslb/explain.ts).
// TTL 0, and an ECS scope equal to the source prefix: the text names the client subnet.
// Off, or outside the access list, the names get REFUSED; other types get NODATA.
import { RRClass, RRType } from '../wire/constants.js';
import { txtRdata } from '../wire/rdata.js';
import type { ResourceRecord } from '../wire/record.js';
import {
  explain,
  explainLines,
  describeLocation,
  locationLine,
  subnetText,
} from '../gslb/explain.js';
import { CONTINUE, PROHIBITED, type Outcome } from './outcome.js';
import type { QueryContext } from './context.js';

const EXPLAIN = '_explain.';

function txtAnswer(ctx: QueryContext, lines: readonly string[]): Outcome {
  const q = ctx.query;
  if (q.qtype !== RRType.TXT && q.qtype !== RRType.ANY)
    return { kind: 'nodata', zone: ctx.zone ?? ctx.snapshot.zone, chain: [] };
  const width = String(lines.length).length;
  const answer: ResourceRecord[] = lines.map((line, i) => ({
    name: q.qname,
    type: RRType.TXT,
    class: RRClass.IN,
    ttl: 0,
    rdata: txtRdata(`${String(i + 1).padStart(width, '0')} ${line}`),
  }));
  return {
    kind: 'answer',
    response: { rcode: 0, authoritative: true, answer, authority: [], additional: [] },
  };
}

export function debugNames(ctx: QueryContext): Outcome {
  const q = ctx.query;
  const zone = ctx.zone;
  if (!zone || q.qclass === RRClass.CH) return CONTINUE;
  const isWhoami = q.qname === `whoami.${zone.name}`;
  const plan = q.qname.startsWith(EXPLAIN)
    ? ctx.snapshot.plans.get(q.qname.slice(EXPLAIN.length))
    : undefined;
  if (!isWhoami && !plan) return CONTINUE;
  // whoami names the client's port, which the answer cache's key does not hold; _explain is
  // an operator's one-off question, not worth a slot hot answers could use.
  ctx.cacheable = false;
  const allow = ctx.settings.debug;
  if (!allow || !allow(q.clientAddress)) return PROHIBITED;
  const ecs = q.edns?.clientSubnet;
  if (plan) {
    const report = explain(
      ctx.snapshot,
      ctx.settings.geo,
      plan,
      [4, 6],
      q.clientAddress,
      ecs,
      ctx.clock(),
    );
    if (report.location.source === 'ecs') ctx.widenScope(report.location.sourcePrefix);
    return txtAnswer(ctx, explainLines(report));
  }
  const loc = ctx.locate(true);
  if (loc.source === 'ecs') ctx.widenScope(loc.sourcePrefix);
  return txtAnswer(ctx, [
    `resolver ${q.clientAddress} port ${q.clientPort} over ${q.transport}`,
    `ecs ${ecs ? subnetText(ecs) : 'none'}`,
    locationLine(describeLocation(loc)),
  ]);
}
