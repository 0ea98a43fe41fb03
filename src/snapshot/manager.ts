// Keeps the live snapshot: builds a new one aside when the store changes (debounced, one
// build at a time), and publishes it with a single assignment. A failed build is logged
// and counted and the previous snapshot keeps serving (Caddy's Load, Knot's zonedb-load).
import type { Config } from '../config/schema.js';
import type { SnapshotSource as Store } from './source.js';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { buildFromStore, type BuildRecipe } from './from-store.js';
import type { Snapshot } from './snapshot.js';
import type { SnapshotMetrics } from './metrics.js';

export interface SnapshotManagerDeps {
  config: Config;
  store: Store;
  logger: Logger;
  metrics: SnapshotMetrics;
  now?: () => number;
  /**
   * Runs after a build and before its snapshot is published, e.g. to fill the new answer
   * cache (pipeline/handler.ts prewarm); a failure is logged and publishing goes on.
   */
  beforePublish?: (next: Snapshot, previous: Snapshot | undefined) => Promise<unknown>;
}

export class SnapshotManager {
  private live: Snapshot | undefined;
  private liveRecipe: BuildRecipe | undefined;
  private generation = 0;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private building: Promise<void> | undefined;
  private again = false;
  private waiters: Array<() => void> = [];
  private stopped = false;
  private lastError: string | undefined;
  /** Fires the rebuild that drops the next expiring challenge TXT value. */
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly publishListeners = new Set<(s: Snapshot) => void>();

  constructor(private readonly deps: SnapshotManagerDeps) {}

  /** The snapshot queries read. Defined after a successful start. */
  get current(): Snapshot {
    if (!this.live) throw new Error('no snapshot has been built yet');
    return this.live;
  }

  /** Called with each snapshot as it is published (a listener added late reads `current` first). */
  onPublish(listener: (s: Snapshot) => void): () => void {
    this.publishListeners.add(listener);
    return () => this.publishListeners.delete(listener);
  }

  /** How the live snapshot was built (what DNS workers rebuild it from). */
  get currentRecipe(): BuildRecipe {
    if (!this.liveRecipe) throw new Error('no snapshot has been built yet');
    return this.liveRecipe;
  }

  get lastBuildError(): string | undefined {
    return this.lastError;
  }

  /** Builds the first snapshot (failure stops start-up) and follows store changes. */
  async start(): Promise<void> {
    this.stopped = false;
    this.unsubscribe = this.deps.store.onChange(() => this.schedule());
    await this.rebuild(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.expiryTimer);
    await this.building?.catch(() => undefined);
    this.releaseWaiters();
  }

  /** Debounces change events: build `debounceMs` after the last one, within `maxDelayMs`. */
  schedule(): void {
    if (this.stopped) return;
    const { debounceMs, maxDelayMs } = this.deps.config.snapshot;
    const now = Date.now();
    if (!this.timer) this.firstPendingAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(debounceMs, this.firstPendingAt + maxDelayMs - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.rebuild(false);
    }, wait);
  }

  /** Resolves once a snapshot built after this call is live (or its build failed). */
  flush(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    void this.rebuild(false);
    return done;
  }

  private releaseWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private async rebuild(initial: boolean): Promise<void> {
    if (this.building) {
      this.again = true;
      return this.building;
    }
    const waiting = this.waiters;
    this.waiters = [];
    this.building = this.buildOnce(initial).finally(() => {
      this.building = undefined;
      for (const fn of waiting) fn();
      if (this.again && !this.stopped) {
        this.again = false;
        void this.rebuild(false);
      } else this.releaseWaiters();
    });
    return this.building;
  }

  /** A value expires without any store write: rebuild just after, so it leaves the zone. */
  private armExpiry(at: number | undefined): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (at === undefined || this.stopped) return;
    const wait = Math.min(Math.max(0, at - Date.now() + 5), 0x7fffffff);
    this.expiryTimer = setTimeout(() => this.schedule(), wait);
    this.expiryTimer.unref();
  }

  private async buildOnce(initial: boolean): Promise<void> {
    const { config, store, logger, metrics } = this.deps;
    // The build's own time: the prewarm after it hands the loop to queries and is not counted.
    const timer = metrics.buildSeconds.startTimer();
    let timed = false;
    const end = () => {
      if (!timed) timer();
      timed = true;
    };
    try {
      const built = await buildFromStore(config, store, {
        generation: this.generation + 1,
        previous: this.live,
        reuse: true,
        now: this.deps.now?.(),
      });
      if (built === 'unchanged') {
        metrics.builds.inc({ result: 'unchanged' });
        this.lastError = undefined;
        metrics.lastSuccess.set(Date.now() / 1000);
        return;
      }
      const { snapshot: next, recipe } = built;
      end();
      try {
        await this.deps.beforePublish?.(next, this.live);
      } catch (err) {
        logger.warn({ err }, 'before-publish step failed; publishing anyway');
      }
      this.generation = next.generation;
      const serial = next.serial;
      for (const w of next.warnings) logger.warn({ serial }, w);
      this.live = next;
      this.liveRecipe = recipe;
      this.lastError = undefined;
      this.armExpiry(next.nextExpiry);
      metrics.builds.inc({ result: 'ok' });
      metrics.serial.set(serial);
      metrics.domains.set(next.domains.size);
      metrics.nodes.set(next.nodes.length);
      metrics.lastSuccess.set(next.builtAt / 1000);
      logger.debug(
        { serial, generation: next.generation, domains: next.domains.size },
        'snapshot published',
      );
      for (const listener of this.publishListeners) {
        try {
          listener(next);
        } catch (err) {
          logger.error({ err }, 'snapshot listener failed');
        }
      }
    } catch (err) {
      metrics.builds.inc({ result: 'failed' });
      this.lastError = errorMessage(err);
      if (initial) throw err;
      logger.error({ err }, 'snapshot build failed; the previous snapshot keeps serving');
    } finally {
      end();
    }
  }
}
