// Why an answer is what it is: the whole decision for a base name and a client, as JSON
// for the API and as TXT lines for `dig TXT _explain.<base name>`. It re-runs the same
// pure decide() with a trace, so it cannot disagree with what the server answers.
import type { ClientSubnet } from '../wire/decode.js';
import type { GeoLookup } from '../geo/geo-record.js';
import { bytesToIPv4, bytesToIPv6 } from '../lib/ip.js';
import { decide, newTrace, type Decision, type DecisionTrace } from './decide.js';
import { locate, type Location } from './location.js';
import type { DomainPlan, Family } from './plan.js';
import type { GslbView } from './pools.js';
import type { HealthClock, TtlBy } from './health-bound.js';

export interface ExplainFamily {
  family: Family;
  decision: Decision['decision'];
  source: Decision['source'];
  pool: string | null;
  answers: string[];
  nodes: readonly string[];
  ttl: number;
  /** What set the TTL: the plan's TTL or failover TTL, a health bound, unknown health, the floor. */
  ttlBy: TtlBy;
  /** The node whose health set the TTL, if one did. */
  ttlNode: string | null;
  scope: number;
  steps: DecisionTrace['steps'];
  candidates: DecisionTrace['candidates'];
  spread: DecisionTrace['spread'] | null;
  lastResort: string | null;
}

export interface ExplainLocation {
  source: Location['source'];
  address: string;
  sourcePrefix: number;
  country: string | null;
  continent: string | null;
  asn: number | null;
  asOrg: string | null;
  lat: number | null;
  lon: number | null;
  coordsFrom: string | null;
  map: { cidr: string; pool?: string; country?: string; continent?: string; asn?: number } | null;
  mapScope: number;
  geoPrefix: number;
  asnPrefix: number;
}

export interface ExplainReport {
  baseName: string;
  domain: string;
  serial: number;
  client: { resolver: string; ecs: string | null; ecsEnabled: boolean };
  location: ExplainLocation;
  families: ExplainFamily[];
  /** The ECS scope the response carries: the widest of the families'. */
  scope: number;
}

export function subnetText(ecs: ClientSubnet): string {
  const addr = ecs.family === 1 ? bytesToIPv4(ecs.address) : bytesToIPv6(ecs.address);
  return `${addr}/${ecs.sourcePrefix}`;
}

export function describeLocation(loc: Location): ExplainLocation {
  const e = loc.net.entry;
  return {
    source: loc.source,
    address: loc.address,
    sourcePrefix: loc.sourcePrefix,
    country: loc.country ?? null,
    continent: loc.continent ?? null,
    asn: loc.asn ?? null,
    asOrg: loc.geo.asOrg ?? null,
    lat: loc.lat ?? null,
    lon: loc.lon ?? null,
    coordsFrom: loc.coordsFrom ?? null,
    map: e
      ? {
          cidr: e.cidr,
          ...(e.pool === undefined ? {} : { pool: e.pool }),
          ...(e.country === undefined ? {} : { country: e.country }),
          ...(e.continent === undefined ? {} : { continent: e.continent }),
          ...(e.asn === undefined ? {} : { asn: e.asn }),
        }
      : null,
    mapScope: loc.net.scope,
    geoPrefix: loc.geo.geoPrefix,
    asnPrefix: loc.geo.asnPrefix,
  };
}

export function explain(
  snapshot: GslbView,
  geo: GeoLookup,
  plan: DomainPlan,
  families: readonly Family[],
  clientAddress: string,
  ecs: ClientSubnet | undefined,
  clock?: HealthClock,
): ExplainReport {
  const loc = locate({ clientAddress, ecs, useEcs: plan.ecs }, snapshot.gslb.nets, geo);
  const out: ExplainFamily[] = families.map((family) => {
    const trace = newTrace();
    const d = decide(snapshot.gslb, plan, family, loc, trace, clock);
    return {
      family,
      decision: d.decision,
      source: d.source,
      pool: d.pool ?? null,
      answers: d.rdata.map((b) => (family === 4 ? bytesToIPv4(b) : bytesToIPv6(b))),
      nodes: d.nodes,
      ttl: d.ttl,
      ttlBy: d.ttlBy,
      ttlNode: d.ttlNode ?? null,
      scope: d.scope,
      steps: trace.steps,
      candidates: trace.candidates,
      spread: trace.spread ?? null,
      lastResort: trace.lastResort ?? null,
    };
  });
  return {
    baseName: plan.owner,
    domain: plan.domain,
    serial: snapshot.serial,
    client: {
      resolver: clientAddress,
      ecs: ecs ? subnetText(ecs) : null,
      ecsEnabled: plan.ecs,
    },
    location: describeLocation(loc),
    families: out,
    scope: Math.max(0, ...out.map((f) => f.scope)),
  };
}

export function locationLine(l: ExplainLocation): string {
  const parts = [
    `location ${l.source} ${l.address}/${l.sourcePrefix}`,
    `country ${l.country ?? '-'}`,
    `continent ${l.continent ?? '-'}`,
    `asn ${l.asn === null ? '-' : `AS${l.asn}`}${l.asOrg ? ` (${l.asOrg})` : ''}`,
    `coords ${l.lat === null ? '-' : `${l.lat.toFixed(2)},${(l.lon ?? 0).toFixed(2)} ${l.coordsFrom}`}`,
    `geoip /${l.geoPrefix} asn-db /${l.asnPrefix}`,
    `map ${l.map ? `${l.map.cidr}${l.map.pool ? ` pool=${l.map.pool}` : ''}${l.map.country ? ` country=${l.map.country}` : ''}${l.map.continent ? ` continent=${l.map.continent}` : ''}${l.map.asn !== undefined ? ` asn=${l.map.asn}` : ''}` : 'none'} /${l.mapScope}`,
  ];
  return parts.join('; ');
}

/** Why the TTL is what it is, in a few words. */
export function ttlReason(f: Pick<ExplainFamily, 'ttlBy' | 'ttlNode'>): string {
  const node = f.ttlNode ?? '?';
  switch (f.ttlBy) {
    case 'domain':
      return 'domain ttl';
    case 'failover':
      return 'failover ttl';
    case 'health':
      return `health: ${node} could flip then`;
    case 'unknown':
      return `unknown health of ${node}`;
    case 'floor':
      return `floor: ${node} could flip sooner`;
  }
}

/** The report as dig-readable lines (one TXT record each). */
export function explainLines(r: ExplainReport): string[] {
  const lines = [
    `${r.baseName} is ${r.domain}; serial ${r.serial}`,
    `client resolver ${r.client.resolver}; ecs ${r.client.ecs ?? 'none'}${r.client.ecsEnabled ? '' : ' (ignored: ecs off for this domain)'}`,
    locationLine(r.location),
  ];
  for (const f of r.families) {
    const v = `v${f.family}`;
    for (const s of f.steps) {
      const pools = s.pools.length
        ? s.pools.map((p) => `${p.pool} ${p.verdict} (${p.reason})`).join(', ')
        : 'no pool';
      lines.push(`${v} ${s.step} ${s.looked}: ${pools}`);
    }
    if (f.lastResort) lines.push(`${v} last resort ${f.lastResort}`);
    if (f.spread) lines.push(`${v} spread /${f.spread.bucket} over ${f.spread.among.join(' ')}`);
    if (f.candidates.length) {
      lines.push(
        `${v} candidates ` +
          f.candidates
            .map(
              (c) =>
                `${c.node}${c.picked ? '*' : ''} ${c.drained ? 'drain' : c.healthy ? 'up' : 'down'} w${c.weight} ${c.score.toPrecision(4)}`,
            )
            .join(', '),
      );
    }
    lines.push(
      `${v} answer ${f.answers.join(' ') || 'none'} (${f.source}); decision ${f.decision}${f.pool ? ` pool ${f.pool}` : ''}; ttl ${f.ttl} (${ttlReason(f)}); scope /${f.scope}`,
    );
  }
  return lines;
}
