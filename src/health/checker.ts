// The health checker, one per instance: probes every edge node on its schedule and keeps
// this instance's view of each (rise/fall hysteresis) in the store; the leader (leader.ts)
// turns all instances' views into each node's state and emits the transitions (events.ts).
// Nodes whose probes are identical (same address and probe spec, rise/fall aside) share one
// probe per round; at most `health.perTarget` probes are in flight to one address and
// `health.concurrency` in all; a node new to the list is probed at once. After each round
// the instance reads every vantage's views of the nodes it probed: its health board, which
// `_health` and /api/v1/health show. What a state means for answers (drained nodes excluded,
// pools skipped) is decided by the GSLB engine from the snapshot.
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import nodeCron, { type ScheduledTask, type TaskContext } from 'node-cron';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Registry } from 'prom-client';
import type { Config, ProbeSpec } from '../config/schema.js';
import type { StoreChange } from '../store/store.js';
import type { EdgeNode, HealthView, NodeHealth, NodeMode } from '../model/domain.js';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { effectiveProbe, probeAddress, probeKey } from './probe-spec.js';
import { runProbe, type ProbeResult } from './probe.js';
import {
  initialHysteresis,
  stepHysteresis,
  type HealthState,
  type Hysteresis,
} from './hysteresis.js';
import { HealthLeader, type HealthStorage } from './leader.js';
import { decideQuorum } from './quorum.js';
import type { HealthEvents } from './events.js';
import type { HealthBoard, HealthBoardEntry } from '../pipeline/context.js';
import { scheduleFor, tickDue } from './schedule.js';
import { healthMetrics, type HealthMetrics } from './metrics.js';
import { HealthBounds, type NodeBound } from '../gslb/health-bound.js';
import { nodeBound } from './ttl-bound.js';

/** This instance in `cdn:health:{node}:{instance}`: `health.instanceId`, else host name and pid. */
export function healthInstanceId(config: Config): string {
  if (config.health.instanceId) return config.health.instanceId;
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-');
  const pid = `:${process.pid}`;
  return host.slice(0, 64 - pid.length) + pid;
}

/**
 * One node as `status()` reports it: the node's health record in the store (as last written
 * by the leader, or stored before this instance started) and this instance's own view.
 */
export interface NodeHealthStatus extends NodeHealth {
  id: string;
  pool: string;
  mode: NodeMode;
  /** The effective probe type; 'none' leaves `active` to the API. */
  probe: ProbeSpec['type'];
  /** Whether this instance probes the node (not paused, not 'none', has an address). */
  probed: boolean;
  intervalSec: number;
  active: boolean;
  /** Latency of this instance's last probe of the node. */
  latencyMs: number | null;
  /** This instance's own view, null before its first probe. */
  view: HealthView | null;
  /** The addresses the node answers with; the probe goes to `address`. */
  families: { ipv4: string | null; ipv6: string | null };
  /** The probed address (IPv4 when the node has one), null when it has none. */
  address: string | null;
  /** Every vantage's unexpired view, as read after this instance's last round. */
  votes: HealthView[];
}

export interface HealthStatus {
  enabled: boolean;
  running: boolean;
  instance: string;
  /** Whether this instance holds the lock and writes node state. */
  leader: boolean;
  nodes: NodeHealthStatus[];
}

interface Tracked {
  /** The node as last read from (or written to) the store. */
  node: EdgeNode;
  spec: ProbeSpec;
  address: string | undefined;
  h: Hysteresis;
  view: HealthView | null;
  inFlight: boolean;
  recheck: NodeJS.Timeout | undefined;
}

const isKnown = (s: HealthState | undefined): s is 'up' | 'down' => s === 'up' || s === 'down';

export interface HealthCheckerDeps {
  config: Config;
  repos: HealthStorage;
  logger: Logger;
  registry: Registry;
  /** This instance in `cdn:health:{node}:{instance}` (see healthInstanceId). */
  instanceId: string;
  /**
   * Takes each new table of node bounds (gslb/health-bound.ts): at start (probed nodes
   * unknown), after every round, and when the node list changes.
   */
  onBounds?: (bounds: HealthBounds) => void;
  /** Where the leader's transitions go; none: they are logged and counted only. */
  events?: HealthEvents | undefined;
}

/** A node no probe can flip: its `active` is the API's (probe 'none', paused, no address). */
const STABLE: NodeBound = { at: Infinity, unknown: false };

export class HealthChecker {
  private readonly config: Config;
  private readonly repos: HealthStorage;
  private readonly instanceId: string;
  private readonly metrics: HealthMetrics;
  private readonly limit: LimitFunction;
  private readonly log: Logger;
  private readonly leader: HealthLeader;
  private readonly events: HealthEvents | undefined;
  private readonly nodes = new Map<string, Tracked>();
  /** Every vantage's views of each node, as read after this instance's last round of it. */
  private readonly votes = new Map<string, HealthView[]>();
  /** One limiter per probed address while probes to it are in flight (health.perTarget). */
  private readonly targets = new Map<string, LimitFunction>();
  /** Set once start() has launched the first round: from then on a new node is probed at once. */
  private probingNew = false;
  /** One cron task per distinct probe interval (seconds). */
  private readonly tasks = new Map<number, ScheduledTask>();
  /** Rounds, rechecks and reloads in flight; stop() waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private abort = new AbortController();
  private running = false;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private lastFailure: string | undefined;
  /** Each node's bound as last computed; a probed node without one is unknown. */
  private readonly bounds = new Map<string, NodeBound>();
  private readonly onBounds: ((bounds: HealthBounds) => void) | undefined;

  constructor(deps: HealthCheckerDeps) {
    this.onBounds = deps.onBounds;
    this.config = deps.config;
    this.repos = deps.repos;
    this.instanceId = deps.instanceId;
    this.events = deps.events;
    this.metrics = healthMetrics(deps.registry);
    this.limit = pLimit(deps.config.health.concurrency);
    this.log = deps.logger.child({ component: 'health', instance: deps.instanceId });
    this.leader = new HealthLeader({
      config: deps.config,
      repos: deps.repos,
      log: this.log,
      metrics: this.metrics,
      instanceId: deps.instanceId,
      probedNode: (id) => {
        const t = this.nodes.get(id);
        return t && this.isProbed(t) ? t : undefined;
      },
      onLeadership: () => this.reload(),
      onTransition: deps.events && ((e) => void deps.events?.emit(e)),
    });
  }

  /**
   * Reads the nodes, takes the lock if free, schedules the probes and starts a first round
   * without waiting for it. Does nothing when `health.enabled` is false. On failure
   * everything already set up is torn down before the error is rethrown.
   */
  async start(): Promise<void> {
    if (!this.config.health.enabled) {
      this.log.info('health checks disabled');
      return;
    }
    if (this.running) throw new Error('health checker already started');
    this.running = true;
    this.abort = new AbortController();
    // Every probe in flight listens on this one signal; up to `concurrency` at once is expected.
    setMaxListeners(0, this.abort.signal);
    try {
      this.events?.start();
      this.unsubscribe = this.repos.store.onChange((c) => this.onStoreChange(c));
      await this.reload();
      await this.leader.start();
      this.syncTasks();
      this.probingNew = true;
      this.track(this.probeAndRecord([...this.nodes.values()]));
      this.log.info(
        {
          nodes: this.nodes.size,
          intervals: [...this.tasks.keys()],
          leader: this.leader.isLeader,
        },
        'health checker started',
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Safe after a failed start and twice. Aborts probes in flight; the leader releases the lock. */
  async stop(): Promise<void> {
    this.running = false;
    this.probingNew = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    // Stops renewing at once; releases the lock once its own work in flight is done.
    const leaderStopped = this.leader.stop();
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    for (const t of this.nodes.values()) clearTimeout(t.recheck);
    this.abort.abort();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await leaderStopped;
    await this.events?.stop();
  }

  status(): HealthStatus {
    const nodes = [...this.nodes.values()]
      .map((t): NodeHealthStatus => {
        const h = t.node.health;
        return {
          id: t.node.id,
          pool: t.node.pool,
          mode: t.node.mode ?? 'auto',
          probe: t.spec.type,
          probed: this.isProbed(t),
          intervalSec: t.spec.intervalSec,
          active: t.node.active,
          state: h?.state ?? 'unknown',
          okStreak: h?.okStreak ?? 0,
          failStreak: h?.failStreak ?? 0,
          checks: h?.checks ?? 0,
          failures: h?.failures ?? 0,
          lastError: h?.lastError ?? null,
          lastChange: h?.lastChange ?? null,
          lastCheck: h?.lastCheck ?? null,
          latencyMs: t.view?.latencyMs ?? null,
          view: t.view && { ...t.view },
          families: { ipv4: t.node.ipv4 ?? null, ipv6: t.node.ipv6 ?? null },
          address: t.address ?? null,
          votes: (this.votes.get(t.node.id) ?? []).map((v) => ({ ...v })),
        };
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      enabled: this.config.health.enabled,
      running: this.running,
      instance: this.instanceId,
      leader: this.leader.isLeader,
      nodes,
    };
  }

  /**
   * The health board `_health` reads: synchronous, from memory. The state and `since` are
   * the node's record as this instance last read or wrote it; the votes are the views read
   * after its last round.
   */
  board(): HealthBoard {
    const leader = this.leader;
    return {
      instance: this.instanceId,
      get leader() {
        return leader.isLeader;
      },
      entry: (id: string): HealthBoardEntry | undefined => {
        const t = this.nodes.get(id);
        // Probe type 'none': the API's `active` is the verdict, which the snapshot holds.
        if (!t || t.spec.type === 'none') return undefined;
        const h = t.node.health;
        return {
          state: h?.state ?? 'unknown',
          since: h?.lastChange ?? null,
          lastError: h?.state === 'down' ? (h.lastError ?? null) : null,
          votes: this.votes.get(id) ?? [],
        };
      },
    };
  }

  /**
   * Runs `p` in the background: errors are logged, and stop() waits for it. During an
   * outage every round fails the same way: a repeated error is logged at debug level.
   */
  private track(p: Promise<void>): void {
    const tracked = p.then(
      () => {
        this.lastFailure = undefined;
      },
      (err: unknown) => {
        if (!this.running) return;
        const msg = errorMessage(err);
        if (msg === this.lastFailure) this.log.debug({ err: msg }, 'health round failed again');
        else this.log.warn({ err: msg }, 'health round failed');
        this.lastFailure = msg;
      },
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private isProbed(t: Tracked): boolean {
    return t.spec.type !== 'none' && t.node.mode !== 'paused' && t.address !== undefined;
  }

  /** The view a node starts from: the stored state (warm start), or the configured one. */
  private startState(node: EdgeNode): HealthState {
    const policy = this.config.health.startup;
    if (policy !== 'last') return policy;
    return isKnown(node.health?.state) ? node.health.state : 'unknown';
  }

  private onStoreChange(c: StoreChange): void {
    // Our own health writes are already applied to our copy; anything else may move nodes.
    if (c.kind === 'nodes' || c.kind === 'all' || (c.kind === 'health' && c.origin === 'remote'))
      this.track(this.reload());
  }

  /** Re-reads the node list (serialized: a change during a reload triggers one more). */
  private reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.reloadAgain = false;
          this.apply(await this.repos.nodes.list());
        } while (this.reloadAgain && this.running);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  private apply(list: EdgeNode[]): void {
    const seen = new Set<string>();
    const added: Tracked[] = [];
    for (const node of list) {
      seen.add(node.id);
      const spec = effectiveProbe(this.config.health.probe, node.probe);
      const cur = this.nodes.get(node.id);
      if (cur) {
        if (cur.node.pool !== node.pool) this.metrics.nodeUp.remove(cur.node.id, cur.node.pool);
        cur.node = node;
        cur.spec = spec;
        cur.address = probeAddress(node);
      } else {
        const t: Tracked = {
          node,
          spec,
          address: probeAddress(node),
          h: initialHysteresis(this.startState(node)),
          view: null,
          inFlight: false,
          recheck: undefined,
        };
        this.nodes.set(node.id, t);
        added.push(t);
      }
      this.metrics.nodeUp.set({ node: node.id, pool: node.pool }, node.active ? 1 : 0);
      const t = this.nodes.get(node.id) as Tracked;
      if (!this.isProbed(t)) this.bounds.set(node.id, STABLE);
      else if (this.bounds.get(node.id) === STABLE) this.bounds.delete(node.id);
    }
    for (const [id, t] of this.nodes) {
      if (seen.has(id)) continue;
      clearTimeout(t.recheck);
      this.metrics.nodeUp.remove(id, t.node.pool);
      this.nodes.delete(id);
      this.bounds.delete(id);
      this.votes.delete(id);
    }
    if (this.running) {
      this.syncTasks();
      this.publishBounds();
    }
    // A new node gets its first probe now, not at its interval's next tick.
    if (this.running && this.probingNew && added.length > 0) this.track(this.probeAndRecord(added));
  }

  /** Hands a copy of the bounds on (queries read it while the next round fills this one). */
  private publishBounds(): void {
    this.onBounds?.(
      new HealthBounds(
        {
          floorSec: this.config.gslb.healthTtlFloor,
          unknownSec: this.config.gslb.unknownTtl,
        },
        new Map(this.bounds),
      ),
    );
  }

  /**
   * The bounds of the nodes just probed, from every instance's views (this instance's own
   * when the others' could not be read: a bound from fewer views is still a lower bound
   * of what this instance's probes allow).
   */
  private updateBounds(
    probed: readonly Tracked[],
    all: ReadonlyMap<string, HealthView[]> | undefined,
  ): void {
    const health = this.config.health;
    for (const t of probed) {
      const views = all?.get(t.node.id) ?? (t.view ? [t.view] : []);
      const timing = {
        intervalSec: t.spec.intervalSec,
        rise: t.spec.rise,
        fall: t.spec.fall,
        recheckMs: health.recheckMs,
      };
      this.bounds.set(t.node.id, nodeBound(views, timing, health.quorum, health.viewTtlSec));
    }
    this.publishBounds();
  }

  /** One cron task per distinct interval among the probed nodes; others are destroyed. */
  private syncTasks(): void {
    const wanted = new Set<number>();
    for (const t of this.nodes.values()) if (this.isProbed(t)) wanted.add(t.spec.intervalSec);
    for (const [sec, task] of this.tasks) {
      if (wanted.has(sec)) continue;
      void task.destroy();
      this.tasks.delete(sec);
    }
    for (const sec of wanted) {
      if (this.tasks.has(sec)) continue;
      const schedule = scheduleFor(sec);
      const task = nodeCron.createTask(
        schedule.expression,
        (ctx: TaskContext) => {
          if (this.running && tickDue(schedule, ctx.date ?? new Date()))
            this.track(this.round(sec));
        },
        { name: `health-${sec}s`, logger: this.cronLogger() },
      );
      void task.start();
      this.tasks.set(sec, task);
    }
  }

  private cronLogger() {
    const log = this.log;
    return {
      info: (m: string) => log.debug(m),
      warn: (m: string) => log.warn(m),
      error: (m: string | Error, err?: Error) => log.error({ err }, String(m)),
      debug: (m: string | Error, err?: Error) => log.debug({ err }, String(m)),
    };
  }

  private round(intervalSec: number): Promise<void> {
    const due = [...this.nodes.values()].filter((t) => t.spec.intervalSec === intervalSec);
    return this.probeAndRecord(due);
  }

  /**
   * Probes `list` (one probe per identical check, bounded per target and in all), writes
   * this instance's views, reads every vantage's views of them (the board), and aggregates
   * when leader.
   */
  private async probeAndRecord(list: Tracked[]): Promise<void> {
    const groups = new Map<string, Tracked[]>();
    for (const t of list) {
      if (!this.running || t.inFlight || !this.isProbed(t) || !this.nodes.has(t.node.id)) continue;
      const key = probeKey(t.address as string, t.spec);
      const g = groups.get(key);
      if (g) g.push(t);
      else groups.set(key, [t]);
    }
    const done = await Promise.all([...groups.values()].map((g) => this.probeGroup(g)));
    const probed = done.flat();
    if (!this.running || probed.length === 0) return;
    const views = new Map<string, HealthView>();
    for (const t of probed) if (t.view) views.set(t.node.id, t.view);
    const ids = probed.map((t) => t.node.id);
    let all: Map<string, HealthView[]> | undefined;
    try {
      await this.repos.health.putViews(views, this.config.health.viewTtlSec);
      all = await this.repos.health.loadViews(ids);
    } finally {
      if (this.running) this.updateBounds(probed, all);
    }
    for (const id of ids) {
      if (!this.nodes.has(id)) continue;
      const v = (all.get(id) ?? []).sort((a, b) =>
        a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0,
      );
      this.votes.set(id, v);
    }
    if (this.leader.isLeader && this.running) await this.leader.aggregate(ids, all);
    else if (this.running && this.staleRecords(ids)) this.track(this.reload());
  }

  /**
   * Whether the votes decide a state the node record here does not have yet: the leader
   * wrote a transition this instance has not read (a state change alone is not announced),
   * so the board would show the old one. Reloading then costs one read around transitions.
   */
  private staleRecords(ids: readonly string[]): boolean {
    return ids.some((id) => {
      const t = this.nodes.get(id);
      const d = decideQuorum(this.votes.get(id) ?? [], this.config.health.quorum);
      return (
        t !== undefined && d.state !== 'unknown' && d.state !== (t.node.health?.state ?? 'unknown')
      );
    });
  }

  /** Runs `fn` within the target's budget (health.perTarget), then the global one. */
  private withinBudget<T>(address: string, fn: () => Promise<T>): Promise<T> {
    let target = this.targets.get(address);
    if (!target) {
      target = pLimit(this.config.health.perTarget);
      this.targets.set(address, target);
    }
    const limit = target;
    return limit(() => this.limit(fn)).finally(() => {
      if (limit.activeCount === 0 && limit.pendingCount === 0) this.targets.delete(address);
    });
  }

  /**
   * One probe for nodes with the same check; its result steps each node's hysteresis.
   * Returns the nodes it recorded (none when stopping).
   */
  private async probeGroup(group: Tracked[]): Promise<Tracked[]> {
    const first = group[0] as Tracked;
    const spec = first.spec;
    for (const t of group) t.inFlight = true;
    let res: ProbeResult;
    try {
      res = await this.withinBudget(first.address as string, () =>
        this.running
          ? runProbe(first.address as string, spec, this.abort.signal)
          : Promise.resolve({ ok: false, latencyMs: 0, error: 'probe aborted', warning: null }),
      );
    } finally {
      for (const t of group) t.inFlight = false;
    }
    if (!this.running) return [];
    const result = res.ok ? 'ok' : 'fail';
    this.metrics.probes.inc({ result });
    this.metrics.probeDuration.observe({ type: spec.type, result }, res.latencyMs / 1000);
    if (group.length > 1) this.metrics.shared.inc(group.length - 1);
    const recorded: Tracked[] = [];
    for (const t of group) {
      if (this.nodes.get(t.node.id) !== t) continue;
      this.record(t, res);
      recorded.push(t);
    }
    return recorded;
  }

  /** One probe result for one node: its hysteresis, its view, and a quick recheck. */
  private record(t: Tracked, res: ProbeResult): void {
    const spec = t.spec;
    const before = t.h;
    const warnedBefore = (t.view?.warning ?? null) !== null;
    t.h = stepHysteresis(before, res.ok, spec.rise, spec.fall);
    t.view = {
      instance: this.instanceId,
      state: t.h.state,
      okStreak: t.h.okStreak,
      failStreak: t.h.failStreak,
      lastError: res.error,
      lastCheck: new Date().toISOString(),
      latencyMs: Math.round(res.latencyMs * 1000) / 1000,
      ...(res.warning === null ? {} : { warning: res.warning }),
    };
    if (t.h.state !== before.state)
      this.log.info(
        { node: t.node.id, from: before.state, to: t.h.state, error: res.error },
        'node view changed',
      );
    if (res.warning !== null && !warnedBefore)
      this.log.warn({ node: t.node.id, warning: res.warning }, 'probe warning');
    // A first failure is checked again soon, so a dead node is caught well before fall × interval.
    const recheckMs = this.config.health.recheckMs;
    if (!res.ok && t.h.failStreak === 1 && t.h.state !== 'down' && recheckMs > 0) {
      clearTimeout(t.recheck);
      t.recheck = setTimeout(() => {
        t.recheck = undefined;
        if (this.running && this.nodes.get(t.node.id) === t) this.track(this.probeAndRecord([t]));
      }, recheckMs);
    }
  }
}
