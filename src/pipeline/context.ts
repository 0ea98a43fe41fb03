// Per-query context: the decoded query, the snapshot it is answered from (fixed for the
// whole query, even if a new one is published meanwhile), the client's location (looked
// up at most once per ECS setting, only when a base name needs it, through the per-bucket
// memo of gslb/location-memo.ts) and what earlier stages found.
import type { Query } from '../wire/decode.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { ZoneData } from '../zone/zone-data.js';
import type { GeoLookup } from '../geo/geo-record.js';
import type { GslbRequest } from '../gslb/answer.js';
import type { Decision } from '../gslb/decide.js';
import type { HealthBounds, HealthClock } from '../gslb/health-bound.js';
import { locate, type Location } from '../gslb/location.js';
import { locationMemoFor } from '../gslb/location-memo.js';
import type { Outcome } from './outcome.js';

/** One vantage's (instance's) latest verdict on a node, as `_health` shows it. */
export interface HealthVote {
  readonly instance: string;
  readonly state: 'unknown' | 'up' | 'down';
  readonly lastCheck: string;
}

/** What `_health` shows of a node beyond the snapshot: its health record and the votes. */
export interface HealthBoardEntry {
  readonly state: 'unknown' | 'up' | 'down';
  /** ISO time of the last up/down transition, null when none is recorded. */
  readonly since: string | null;
  readonly lastError: string | null;
  readonly votes: readonly HealthVote[];
}

/** This process's in-memory health view, read synchronously by `_health` (no I/O). */
export interface HealthBoard {
  readonly instance: string;
  readonly leader: boolean;
  entry(nodeId: string): HealthBoardEntry | undefined;
}

export interface PipelineSettings {
  /** version.bind answer as TXT rdata, encoded once at start-up; null refuses it. */
  readonly version: Buffer | null;
  /** id.server / hostname.bind answer as TXT rdata; null refuses it. */
  readonly identity: Buffer | null;
  /** The live GeoIP view (hot-reloaded underneath). */
  readonly geo: GeoLookup;
  /** Who may ask the debug names (whoami, _explain); null when they are off. */
  readonly debug: ((address: string) => boolean) | null;
  /** The health board `_health` reads; absent: the snapshot's verdicts only. */
  readonly healthBoard?: HealthBoard | undefined;
  /** Takes each GSLB decision the answer rests on (counted once the answer is out). */
  readonly onDecision: (decision: Decision) => void;
  /**
   * The health checker's latest node bounds (gslb/health-bound.ts); absent or undefined,
   * answers carry their plan's TTL.
   */
  readonly health?: (() => HealthBounds | undefined) | undefined;
  /**
   * Locate clients through the per-bucket memo (gslb/location-memo.ts); false looks every
   * query up afresh (the handler's answerCache: false, the reference the caches are
   * tested against). Default on.
   */
  readonly memoLocations?: boolean;
}

export class QueryContext implements GslbRequest {
  /** Set by the authority stage: the zone the query falls in. */
  zone: ZoneData | undefined = undefined;
  /** The widest ECS scope any decision of this response needs (RFC 7871 §7.2.1). */
  ecsScope = 0;
  /**
   * Whether the answer may be reused for the same query bytes from the same client: a stage
   * whose answer says more than those bytes (the client's port) clears it.
   */
  cacheable = true;
  /** A GSLB decision found no address to give (no healthy node, fail-closed). */
  noHealthy = false;
  /** The shortest TTL among the GSLB decisions of this response (Infinity: none made). */
  gslbTtl = Infinity;
  /**
   * The locations answers were computed for, by the domain's ECS setting (read by the
   * answer cache's fill: an answer is shared only by clients with the same facts).
   */
  withEcs: Location | undefined = undefined;
  withoutEcs: Location | undefined = undefined;
  private healthClock: HealthClock | null | undefined;

  constructor(
    readonly query: Query,
    readonly snapshot: Snapshot,
    readonly settings: PipelineSettings,
  ) {}

  locate(useEcs: boolean): Location {
    const cached = useEcs ? this.withEcs : this.withoutEcs;
    if (cached) return cached;
    const input = {
      clientAddress: this.query.clientAddress,
      ecs: this.query.edns?.clientSubnet,
      useEcs,
    };
    const loc =
      this.settings.memoLocations === false
        ? locate(input, this.snapshot.gslb.nets, this.settings.geo)
        : locationMemoFor(this.snapshot.gslb.nets, this.settings.geo).locate(input);
    if (useEcs) this.withEcs = loc;
    else this.withoutEcs = loc;
    return loc;
  }

  /** The bounds and the time, read once per query: every decision of it sees the same. */
  clock(): HealthClock | undefined {
    if (this.healthClock === undefined) {
      const bounds = this.settings.health?.();
      this.healthClock = bounds ? { bounds, now: Date.now() } : null;
    }
    return this.healthClock ?? undefined;
  }

  decided(decision: Decision): void {
    if (decision.scope > this.ecsScope) this.ecsScope = decision.scope;
    if (decision.source === 'none') this.noHealthy = true;
    if (decision.ttl < this.gslbTtl) this.gslbTtl = decision.ttl;
    this.settings.onDecision(decision);
  }

  /** Debug answers depend on the whole client subnet: scope = its source prefix. */
  widenScope(scope: number): void {
    if (scope > this.ecsScope) this.ecsScope = scope;
  }
}

export type Stage = (ctx: QueryContext) => Outcome;
