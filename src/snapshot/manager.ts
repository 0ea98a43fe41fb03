// Keeps the live snapshot: builds a new one aside when the store changes (debounced, one
// build at a time), and publishes it with a single assignment. A failed build is logged
// and counted and the previous snapshot keeps serving (Caddy's Load, Knot's zonedb-load).
// A build that changes more than the publish gate allows is held (publish-gate.ts).
import type { Config } from '../config/schema.js';
import type { SnapshotSource as Store } from './source.js';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { buildFromStore, type BuildRecipe } from './from-store.js';
import type { Snapshot } from './snapshot.js';
import type { SnapshotMetrics } from './metrics.js';
import type { StoreState } from './source.js';
import { drive } from '../lib/cooperative.js';
import { buildSteps } from './build.js';
import type { LastKnownGood, LastKnownGoodWriter } from './last-known-good.js';
import {
  HOLD_REASONS,
  breaches,
  describeBreaches,
  GateViews,
  readRelease,
  releases,
  requestRelease,
  type Breach,
} from './publish-gate.js';

/** A build the publish gate keeps from going live. */
export interface HeldChange {
  breaches: Breach[];
  serial: number;
  contentHash: string;
  domains: number;
  nodes: number;
  /** When this content was first held (ms). */
  since: number;
}

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
  /** Keeps each published recipe on disk (last-known-good.ts). */
  lastKnownGood?: LastKnownGoodWriter | undefined;
}

export interface StartOptions {
  /** Serve this first; the store's content replaces it only through the publish gate. */
  from?: LastKnownGood | undefined;
  /** False: the store is unreachable; follow it once storeReturned() is called. */
  storeUp?: boolean;
}

/** Where the live snapshot came from. */
export type SnapshotSource = 'store' | 'last-known-good';

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
  private held: HeldChange | undefined;
  /** The last release marker seen (publish-gate.ts): a different one admits a held build. */
  private releaseSeen: string | undefined;
  /** The gate's views of live and next content, their name sets memoised. */
  private readonly gateViews = new GateViews();
  private recheckTimer: NodeJS.Timeout | undefined;
  private liveSource: SnapshotSource = 'store';

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

  /** 'last-known-good' until the store's content is published or found identical. */
  get source(): SnapshotSource {
    return this.liveSource;
  }

  /** The build the publish gate holds, if any. */
  get heldChange(): HeldChange | undefined {
    return this.held;
  }

  /**
   * Admits what is held, here and on every instance sharing the store (they look for the
   * marker while they hold), and resolves once this instance published a new build.
   */
  async release(): Promise<void> {
    await requestRelease(this.deps.store.releases);
    await this.flush();
  }

  /**
   * The bounds a write would cross by itself: `change` applied to a copy of the live
   * content (never the store). Empty when the gate is off or nothing is live yet.
   */
  checkWrite(change: (state: StoreState) => StoreState): Breach[] {
    const gate = this.deps.config.snapshot.gate;
    if (!gate.enabled || !this.liveRecipe) return [];
    const state = this.liveRecipe.state;
    const next = change({ ...state, domains: [...state.domains], nodes: [...state.nodes] });
    return breaches(this.gateViews.view(state), this.gateViews.view(next), gate);
  }

  /**
   * Builds the first snapshot (failure stops start-up) and follows store changes. From a
   * last-known-good, that is live at once and the store's build goes through the gate.
   */
  async start(opts: StartOptions = {}): Promise<void> {
    this.stopped = false;
    if (opts.from) await this.publishLastKnownGood(opts.from);
    if (opts.storeUp === false) {
      if (!opts.from) throw new Error('an unreachable store needs a last-known-good to start');
      return;
    }
    await this.follow(!opts.from);
  }

  /** The store became reachable after a start without it: catch up through the gate. */
  async storeReturned(): Promise<void> {
    if (this.stopped || this.unsubscribe) return;
    await this.follow(false);
  }

  private async follow(initial: boolean): Promise<void> {
    this.unsubscribe = this.deps.store.onChange(() => this.schedule());
    // Markers from before this start release nothing.
    this.releaseSeen = await readRelease(this.deps.store.releases);
    await this.rebuild(initial);
  }

  private async publishLastKnownGood(from: LastKnownGood): Promise<void> {
    const recipe = { ...from.recipe, generation: this.generation + 1 };
    const next = await drive(buildSteps({ ...recipe, config: this.deps.config }));
    this.liveSource = 'last-known-good';
    this.deps.metrics.fromLastKnownGood.set(1);
    this.deps.lastKnownGood?.markWritten(recipe.serial);
    this.deps.logger.warn(
      { serial: next.serial, domains: next.domains.size, writtenAt: from.writtenAt },
      'serving the last-known-good snapshot until the store is read',
    );
    this.install(next, recipe);
  }

  /** Makes `next` the live snapshot and tells everyone who listens. */
  private install(next: Snapshot, recipe: BuildRecipe): void {
    const { logger, metrics } = this.deps;
    this.generation = next.generation;
    const serial = next.serial;
    for (const w of next.warnings) logger.warn({ serial }, w);
    this.live = next;
    this.liveRecipe = recipe;
    this.armExpiry(next.nextExpiry);
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
  }

  private fromStore(): void {
    if (this.liveSource === 'store') return;
    this.liveSource = 'store';
    this.deps.metrics.fromLastKnownGood.set(0);
    this.deps.logger.info({ serial: this.live?.serial }, 'serving the store content again');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.expiryTimer);
    clearInterval(this.recheckTimer);
    this.recheckTimer = undefined;
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
    // `at` is on the builds' clock (deps.now), like the snapshot's nextExpiry.
    const wait = Math.min(Math.max(0, at - (this.deps.now?.() ?? Date.now()) + 5), 0x7fffffff);
    this.expiryTimer = setTimeout(() => this.schedule(), wait);
    this.expiryTimer.unref();
  }

  /** The publish gate: true when `next` may go live; else it is held (and reported once). */
  private async admit(next: Snapshot, recipe: BuildRecipe): Promise<boolean> {
    const gate = this.deps.config.snapshot.gate;
    const live = this.live;
    const liveRecipe = this.liveRecipe;
    if (!gate.enabled || !live || !liveRecipe) return this.setHeld(undefined);
    const found = breaches(
      this.gateViews.view(liveRecipe.state, live),
      this.gateViews.view(recipe.state, next),
      gate,
    );
    if (found.length === 0) return this.setHeld(undefined);
    const marker = await readRelease(this.deps.store.releases);
    if (releases(marker, this.releaseSeen, Date.now())) {
      this.releaseSeen = marker;
      this.deps.logger.warn(
        { serial: next.serial, reasons: found.map((b) => b.reason) },
        `held change released, publishing: ${describeBreaches(found)}`,
      );
      return this.setHeld(undefined);
    }
    const same = this.held?.contentHash === next.contentHash;
    this.setHeld({
      breaches: found,
      serial: next.serial,
      contentHash: next.contentHash,
      domains: next.domains.size,
      nodes: next.nodes.length,
      since: same && this.held ? this.held.since : Date.now(),
    });
    this.deps.metrics.builds.inc({ result: 'held' });
    if (!same) {
      this.deps.logger.warn(
        { serial: next.serial, live: live.serial, reasons: found.map((b) => b.reason) },
        `snapshot held by the publish gate, serial ${live.serial} keeps serving: ${describeBreaches(found)}` +
          ' (release: cirrus snapshot release, or POST /api/v1/snapshot/release)',
      );
    }
    return false;
  }

  /** Records what is held (undefined: nothing); returns true when nothing is. */
  private setHeld(held: HeldChange | undefined): boolean {
    this.held = held;
    const active = new Set(held?.breaches.map((b) => b.reason));
    for (const reason of HOLD_REASONS)
      this.deps.metrics.held.set({ reason }, active.has(reason) ? 1 : 0);
    if (!held) {
      clearInterval(this.recheckTimer);
      this.recheckTimer = undefined;
    } else if (!this.recheckTimer && !this.stopped) {
      // A release on another instance sends no change event: look for its marker.
      this.recheckTimer = setInterval(() => {
        readRelease(this.deps.store.releases).then(
          (marker) => {
            if (this.held && releases(marker, this.releaseSeen, Date.now())) this.schedule();
          },
          () => undefined,
        );
      }, this.deps.config.snapshot.gate.recheckMs);
      this.recheckTimer.unref();
    }
    return !held;
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
        // A timer capped below its due time (setTimeout's 24.8-day limit) finds nothing
        // changed: it must be armed again, or the due key event would never be built.
        this.armExpiry(this.live?.nextExpiry);
        this.setHeld(undefined);
        this.fromStore();
        metrics.builds.inc({ result: 'unchanged' });
        this.lastError = undefined;
        metrics.lastSuccess.set(Date.now() / 1000);
        return;
      }
      const { snapshot: next, recipe } = built;
      end();
      if (!(await this.admit(next, recipe))) return;
      try {
        await this.deps.beforePublish?.(next, this.live);
      } catch (err) {
        logger.warn({ err }, 'before-publish step failed; publishing anyway');
      }
      this.lastError = undefined;
      metrics.builds.inc({ result: 'ok' });
      this.install(next, recipe);
      if (initial && this.deps.config.snapshot.gate.enabled) this.gateViews.prime(recipe.state);
      this.fromStore();
      this.deps.lastKnownGood?.schedule(recipe);
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
