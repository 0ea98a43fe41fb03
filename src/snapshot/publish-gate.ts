// The publish gate (blast-radius brake): decides whether a new snapshot's content differs
// from the live one by more than the configured bounds, in which case it is held and the
// live snapshot keeps serving (Knot 3.5 holds a zone change until a checker approves it).
// Health (a node's `active` flag) never counts: only names and nodes that disappear.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { ReleaseMarkers, StoreState } from './source.js';
import type { Snapshot } from './snapshot.js';
import { CirrusError } from '../lib/errors.js';
import { RRType } from '../wire/constants.js';
import { sameObjects } from './content-hash.js';

/** Why a change is held; a fixed set, so it is a bounded metric label. */
export const HOLD_REASONS = [
  'store-emptied',
  'names-lost',
  'pool-drained',
  'nodes-lost',
  'apex-changed',
] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

export interface Breach {
  reason: HoldReason;
  /** What crossed the bound, for an operator (counts and names, never the whole list). */
  detail: string;
}

export type GateBounds = Config['snapshot']['gate'];

/** What the gate compares: the served base names, the nodes by pool, the apex. */
export interface GateView {
  names: ReadonlySet<string>;
  /** Node id → pool. */
  nodes: ReadonlyMap<string, string>;
  /** The apex NS set and SOA without its serial; undefined when not known (a write check). */
  apex?: string | undefined;
}

/**
 * Gate views with their name sets memoised: the last set built is kept with the domain
 * list it came from. A rebuild for a node, health or policy change sees the very same
 * domain objects (the stores replace a domain whole, never edit one in place), so both
 * views share this set and the lost-name scan is skipped: at 100,000 domains, building two
 * sets and comparing them held the event loop for 100–200 ms per rebuild. One per
 * snapshot manager; only a cache (another domain list gets a set of its own).
 */
export class GateViews {
  private last: { domains: StoreState['domains']; names: ReadonlySet<string> } | undefined;

  view(state: StoreState, snapshot?: Snapshot): GateView {
    return {
      names: this.namesOf(state.domains),
      nodes: new Map(state.nodes.map((n) => [n.id, n.pool])),
      apex: snapshot ? apexOf(snapshot) : undefined,
    };
  }

  /**
   * Builds the name set of `state` ahead of the first rebuild's gate, so that gate finds it
   * (at 100,000 domains, 45 ms of the event loop at start-up instead of under load).
   */
  prime(state: StoreState): void {
    this.namesOf(state.domains);
  }

  private namesOf(domains: StoreState['domains']): ReadonlySet<string> {
    const last = this.last;
    if (last && (last.domains === domains || sameObjects(last.domains, domains))) return last.names;
    const names = new Set(domains.map((d) => d.label));
    this.last = { domains, names };
    return names;
  }
}

/** The apex NS rdata and the SOA rdata with its serial left out. */
function apexOf(s: Snapshot): string {
  const ns = (s.zone.rrsets(s.zone.name).get(RRType.NS) ?? []).map((r) => r.rdata.toString('hex'));
  const soa = s.zone.soa.rdata;
  const fixed = soa.length - 20;
  return [
    ...ns.sort(),
    soa.subarray(0, fixed).toString('hex'),
    soa.subarray(fixed + 4).toString('hex'),
    String(s.zone.soa.ttl),
  ].join(' ');
}

function sample(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown}, …` : shown;
}

/** Every bound `next` crosses relative to `live`; empty when the change may be published. */
export function breaches(live: GateView, next: GateView, bounds: GateBounds): Breach[] {
  const out: Breach[] = [];
  const liveEmpty = live.names.size === 0 && live.nodes.size === 0;
  const nextEmpty = next.names.size === 0 && next.nodes.size === 0;
  if (!liveEmpty && nextEmpty) {
    out.push({
      reason: 'store-emptied',
      detail: `the store holds no domain and no node (live: ${live.names.size} names, ${live.nodes.size} nodes)`,
    });
  }
  const lost = live.names === next.names ? [] : [...live.names].filter((n) => !next.names.has(n));
  // One name is never held: deleting a single domain is an ordinary write.
  if (
    lost.length > 1 &&
    (lost.length > bounds.maxLostNames || lost.length > bounds.maxLostNamesShare * live.names.size)
  ) {
    out.push({
      reason: 'names-lost',
      detail: `${lost.length} of ${live.names.size} served base names would disappear (${sample(lost)})`,
    });
  }
  const pools = new Map<string, string[]>();
  for (const [id, pool] of live.nodes) pools.set(pool, [...(pools.get(pool) ?? []), id]);
  const drained = [...pools]
    .filter(([, ids]) => ids.every((id) => !next.nodes.has(id)))
    .map(([pool]) => pool)
    .filter((pool) => ![...next.nodes.values()].includes(pool));
  if (drained.length > 0) {
    out.push({
      reason: 'pool-drained',
      detail: `every node of pool ${sample(drained)} would disappear`,
    });
  }
  // The fleet shrinking is what counts: nodes replaced by new ones (a PUT of the whole list
  // with new ids) keep the capacity; a pool emptied that way is caught above.
  const lostNodes = [...live.nodes.keys()].filter((id) => !next.nodes.has(id));
  const added = [...next.nodes.keys()].filter((id) => !live.nodes.has(id)).length;
  const netLost = lostNodes.length - added;
  if (netLost > 1 && netLost > bounds.maxLostNodesShare * live.nodes.size) {
    out.push({
      reason: 'nodes-lost',
      detail: `${lostNodes.length} of ${live.nodes.size} nodes would disappear, ${added} new (${sample(lostNodes)})`,
    });
  }
  if (live.apex !== undefined && next.apex !== undefined && live.apex !== next.apex) {
    out.push({ reason: 'apex-changed', detail: 'the apex NS set or SOA would change' });
  }
  return out;
}

export function describeBreaches(list: readonly Breach[]): string {
  return list.map((b) => `${b.reason}: ${b.detail}`).join('; ');
}

/** An API write that by itself would cross a bound; `force=true` makes it go through. */
export class BlastRadiusError extends CirrusError {
  constructor(list: readonly Breach[]) {
    super(
      'BLAST_RADIUS',
      `this write would be held by the publish gate (${describeBreaches(list)}); repeat it with force=true if it is meant`,
      { status: 409, field: 'force' },
    );
  }
}

/**
 * The release marker (`cdn:meta:gate-release`, `<ms>-<uuid>`): a value an instance has not
 * seen, written less than RELEASE_WINDOW_MS ago, admits what it holds or holds next, once;
 * so a forced write or a release on one instance reaches every instance sharing the store,
 * and a release when nothing is held does not wave through a later change.
 */
export const RELEASE_WINDOW_MS = 60_000;

/** True when `marker` is a release this instance has not used yet and is still fresh. */
export function releases(
  marker: string | undefined,
  seen: string | undefined,
  now: number,
): boolean {
  if (marker === undefined || marker === seen) return false;
  const at = Number.parseInt(marker, 10);
  return Number.isFinite(at) && now - at <= RELEASE_WINDOW_MS && at - now <= RELEASE_WINDOW_MS;
}

export async function requestRelease(markers: ReleaseMarkers): Promise<string> {
  const marker = `${Date.now()}-${randomUUID()}`;
  await markers.put(marker);
  return marker;
}

export async function readRelease(markers: ReleaseMarkers): Promise<string | undefined> {
  return markers.get();
}
