// The health leader: the instance holding the `health` lock (`cdn:lock:health`) turns every
// instance's view of a node into the node's state by quorum and writes it to the node; it
// alone flips `active`. Which nodes are probed and how is the prober's (checker.ts).
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { HealthRepository } from './repository.js';
import type { EdgeNode, HealthView, NodeHealth } from '../model/domain.js';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { decideQuorum } from './quorum.js';
import type { HealthMetrics } from './metrics.js';
import type { HealthEventInput } from './events.js';

/** The lock (`cdn:lock:health`) whose holder writes node state. */
export const HEALTH_LOCK = 'health';

/** Where health reads and writes: change events, the nodes, and the views and leader lock. */
/** The nodes as health reads and writes them (domains/repository.ts's NodeRepository). */
export interface HealthNodes {
  list(): Promise<EdgeNode[]>;
  /** False when the node is gone. */
  /** `active` undefined keeps the stored value. */
  setHealth(id: string, active: boolean | undefined, health: NodeHealth): Promise<boolean>;
}

export interface HealthStorage {
  store: Store;
  nodes: HealthNodes;
  health: HealthRepository;
}

/** A node as the prober tracks it; the leader replaces `node` with what it wrote. */
export interface LeaderNode {
  node: EdgeNode;
}

export interface HealthLeaderDeps {
  config: Config;
  repos: Pick<HealthStorage, 'nodes' | 'health'>;
  log: Logger;
  metrics: HealthMetrics;
  instanceId: string;
  /** The prober's node `id` when this instance probes it, else undefined. */
  probedNode: (id: string) => LeaderNode | undefined;
  /** Runs when this instance takes the lock, before it writes: re-reads the stored nodes. */
  onLeadership: () => Promise<void>;
  /** Takes each state transition once it is written (events.ts): only the leader has them. */
  onTransition?: ((event: HealthEventInput) => void) | undefined;
}

export class HealthLeader {
  private running = false;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  /** Renewals and aggregations in flight; stop() waits for them before releasing the lock. */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: HealthLeaderDeps) {}

  /** Whether this instance holds the lock and writes node state. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** Takes the lock if free, then renews or retakes it every third of its TTL. */
  async start(): Promise<void> {
    this.running = true;
    await this.renewLock();
    const every = Math.max(250, Math.floor(this.deps.config.health.lockTtlMs / 3));
    this.timer = setInterval(() => this.track(this.renewLock()), every);
  }

  /**
   * Safe after a failed start and twice. Stops renewing, waits for the work in flight, and
   * releases the lock even when we did not know we held it (a renewal may have landed
   * during stop). Compare-and-delete, so another instance's lock is never touched.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    const wasLeader = this.leader;
    this.leader = false;
    if (!this.deps.config.health.enabled) return;
    try {
      await this.deps.repos.health.releaseLock(HEALTH_LOCK, this.deps.instanceId);
    } catch (err) {
      if (wasLeader)
        this.deps.log.warn({ err: errorMessage(err) }, 'could not release the health lock');
    }
  }

  /**
   * Every instance's unexpired view of `ids` → quorum → the node's record. Counters are
   * written every round; `active` changes only when the quorum state is up or down and
   * differs, which is what publishes `cdn:cname:dirty`. An unknown quorum keeps `active`.
   * Does nothing once stopped. `views`: every view of `ids` when the caller just read them.
   */
  aggregate(ids: string[], views?: ReadonlyMap<string, HealthView[]>): Promise<void> {
    if (!this.running) return Promise.resolve();
    const p = this.aggregateNow(ids, views);
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
    return p;
  }

  private async aggregateNow(
    ids: string[],
    views: ReadonlyMap<string, HealthView[]> | undefined,
  ): Promise<void> {
    const { config, metrics, log } = this.deps;
    const all = views ?? (await this.deps.repos.health.loadViews(ids));
    const now = new Date().toISOString();
    await Promise.all(
      ids.map(async (id) => {
        const t = this.deps.probedNode(id);
        if (!t) return;
        const d = decideQuorum(all.get(id) ?? [], config.health.quorum);
        const prev = t.node.health;
        const f = d.freshest;
        const newCheck = f !== undefined && f.lastCheck !== prev?.lastCheck;
        // An unknown quorum leaves `active` as stored (this copy may be older than the store).
        const decided = d.state === 'up' ? true : d.state === 'down' ? false : undefined;
        const active = decided ?? t.node.active;
        const changed = d.state !== 'unknown' && d.state !== (prev?.state ?? 'unknown');
        const health: NodeHealth = {
          state: d.state,
          okStreak: f?.okStreak ?? 0,
          failStreak: f?.failStreak ?? 0,
          checks: (prev?.checks ?? 0) + (newCheck ? 1 : 0),
          failures: (prev?.failures ?? 0) + (newCheck && f.failStreak > 0 ? 1 : 0),
          lastError: (newCheck ? f.lastError : null) ?? prev?.lastError ?? null,
          lastChange: changed ? now : (prev?.lastChange ?? null),
          lastCheck: f?.lastCheck ?? prev?.lastCheck ?? null,
        };
        if (!(await this.deps.repos.nodes.setHealth(id, decided, health))) return;
        if (active !== t.node.active) {
          metrics.transitions.inc({ to: active ? 'up' : 'down' });
          log.info(
            { node: id, active, up: d.up, down: d.down, needed: d.needed, error: health.lastError },
            active ? 'node up' : 'node down',
          );
        }
        if (changed)
          this.deps.onTransition?.({
            node: id,
            pool: t.node.pool,
            previous: prev?.state ?? 'unknown',
            state: d.state,
            active,
            reason:
              d.state === 'down'
                ? (health.lastError ?? 'probes failed')
                : `${d.up} of ${d.up + d.down + d.unknown} vantage(s) up`,
            time: now,
            instance: this.deps.instanceId,
            votes: { up: d.up, down: d.down, unknown: d.unknown, needed: d.needed },
          });
        t.node = { ...t.node, active, health };
        metrics.nodeUp.set({ node: id, pool: t.node.pool }, active ? 1 : 0);
      }),
    );
  }

  /** Runs a renewal in the background: stop() waits for it; a failure is logged. */
  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => {
      if (this.running) this.deps.log.warn({ err: errorMessage(err) }, 'health round failed');
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Takes or renews the lock; a new leader re-reads the nodes to start from the stored records. */
  private async renewLock(): Promise<void> {
    if (!this.running) return;
    let held: boolean;
    try {
      held = await this.deps.repos.health.acquireLock(
        HEALTH_LOCK,
        this.deps.instanceId,
        this.deps.config.health.lockTtlMs,
      );
    } catch (err) {
      held = false;
      this.deps.log.warn({ err: errorMessage(err) }, 'health lock renewal failed');
    }
    if (!this.running) return;
    if (held && !this.leader) {
      await this.deps.onLeadership();
      this.leader = true;
      this.deps.log.info('health leader: writing node state');
    } else if (!held && this.leader) {
      this.leader = false;
      this.deps.log.warn('health leadership lost');
    }
  }
}
