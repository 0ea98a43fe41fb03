// Debug names answered over DNS, so an operator needs nothing but dig:
//   whoami.<zone> TXT          — the resolver address, the ECS subnet and the location found;
//   _explain.<base name> TXT   — the whole GSLB decision for that client (see gslb/explain.ts);
//   _health.<base name> TXT    — every node of the pools the domain may use: its verdict, since
//                                when, and each vantage's vote (the health board, in memory).
// TTL 0; whoami and _explain carry an ECS scope equal to the source prefix (the text names
// the client subnet), _health scope 0 (it names no client).
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
import type { HealthBoard, QueryContext } from './context.js';
import type { DomainPlan } from '../gslb/plan.js';
import type { Snapshot } from '../snapshot/snapshot.js';

const EXPLAIN = '_explain.';
const HEALTH = '_health.';

/**
 * The `_health` lines of `plan`: a header, then one line per node of the pools it may use
 * (all pools when it names none), sorted by pool and id. The state is the health board's
 * record when there is one, else the snapshot's verdict (up/down, e.g. set through the API).
 */
export function healthLines(
  snapshot: Snapshot,
  plan: DomainPlan,
  board: HealthBoard | undefined,
): string[] {
  const nodes = snapshot.nodes
    .filter((n) => plan.pools === undefined || plan.pools.has(n.pool))
    .slice()
    .sort((a, b) => (a.pool === b.pool ? (a.id < b.id ? -1 : 1) : a.pool < b.pool ? -1 : 1));
  const pools = [...new Set(nodes.map((n) => n.pool))];
  const lines = [
    `${plan.owner} ${nodes.length} node(s) in pool(s) ${pools.join(',') || 'none'}; seen by ${
      board
        ? `${board.instance}${board.leader ? ' (leader)' : ''}`
        : 'this instance (no health checker)'
    }`,
  ];
  for (const n of nodes) {
    const e = board?.entry(n.id);
    const families = [n.a ? 'v4' : '', n.aaaa ? 'v6' : ''].filter(Boolean).join('+');
    const state = e?.state ?? (n.healthy ? 'up' : 'down');
    const votes = e?.votes.length
      ? e.votes.map((v) => `${v.instance}=${v.state}`).join(' ')
      : 'none';
    lines.push(
      [
        `${n.id} pool ${n.pool} ${families}`,
        `${state} since ${e?.since ?? '-'}`,
        n.drained ? 'drained' : n.active ? 'serving' : 'not serving',
        `votes ${votes}`,
        ...(e?.lastError ? [`error ${e.lastError}`] : []),
      ].join('; '),
    );
  }
  return lines;
}

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
  const healthPlan = q.qname.startsWith(HEALTH)
    ? ctx.snapshot.plans.get(q.qname.slice(HEALTH.length))
    : undefined;
  if (!isWhoami && !plan && !healthPlan) return CONTINUE;
  // whoami names the client's port, which the answer cache's key does not hold; _explain and
  // _health are an operator's one-off questions, not worth a slot hot answers could use (and
  // _health changes with every probe round).
  ctx.cacheable = false;
  const allow = ctx.settings.debug;
  if (!allow || !allow(q.clientAddress)) return PROHIBITED;
  if (healthPlan)
    return txtAnswer(ctx, healthLines(ctx.snapshot, healthPlan, ctx.settings.healthBoard));
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
