// Shedding instead of queueing: when queries wait longer than a client waits for an
// answer, they are dropped, cheaply and counted, so the ones behind them are answered in
// time and latency stays bounded. A query's age is the event-loop lag (a timer due every
// `sampleMs`: how late it fired, or how overdue it is while a long turn runs) plus the
// time it waited in a queue of the process's own since it was read off the socket.
// The lag catches stalls (long turns, GC pauses); it does not see a socket buffer that
// fills while the loop stays responsive (libuv reads a bounded batch of datagrams per
// turn and runs timers in between), which the receive stamp of an in-process queue does.
// What a shed query costs (nothing is sent) and which transports are exempt is the caller's.

export interface LoadShedConfig {
  /** Lag above which queries are shed (ms); shedding stops below half of it. 0: never shed. */
  readonly maxLagMs: number;
  /** Period of the lag timer (ms). */
  readonly sampleMs: number;
}

/**
 * 150 ms: under the 376 ms Unbound waits for a server it has no round-trip time for yet,
 * so an answer this late is still one a resolver is waiting for.
 */
export const LOAD_SHED_DEFAULTS: LoadShedConfig = { maxLagMs: 150, sampleMs: 20 };

/** The clock and timer the shedder runs on: the real ones, or a test's fake. */
export interface ShedClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ShedClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface LoadShedCounters {
  admitted: number;
  shed: number;
  /** Times shedding started. */
  episodes: number;
}

/**
 * Lifecycle: create → start → stop (stop also after a failed or missing start). Without
 * a start, `lag` reads 0 unless samples are recorded by hand, and everything is admitted.
 */
export class LoadShedder {
  readonly config: LoadShedConfig;
  readonly counters: LoadShedCounters = { admitted: 0, shed: 0, episodes: 0 };
  private lastLag = 0;
  /** When the pending lag timer is due; NaN while none is pending. */
  private due = NaN;
  private timer: unknown;
  private running = false;
  private isShedding = false;

  constructor(
    config: Partial<LoadShedConfig> = {},
    private readonly clock: ShedClock = realClock,
  ) {
    this.config = { ...LOAD_SHED_DEFAULTS, ...config };
    const { maxLagMs, sampleMs } = this.config;
    if (!(maxLagMs >= 0) || !(sampleMs > 0))
      throw new RangeError('maxLagMs must be ≥ 0 and sampleMs > 0');
  }

  start(): void {
    if (this.running || this.config.maxLagMs === 0) return;
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.due = NaN;
  }

  get shedding(): boolean {
    return this.isShedding;
  }

  /**
   * The lag at `nowMs`: the last timer's lateness, or how overdue the pending timer is
   * when that is more (the loop is in a long turn right now, so the last sample is stale).
   */
  lag(nowMs: number = this.clock.now()): number {
    const overdue = nowMs - this.due;
    return overdue > this.lastLag ? overdue : this.lastLag;
  }

  /** Records one lag sample: what the timer does; exposed for callers with their own sampler. */
  recordLag(lagMs: number): void {
    this.lastLag = lagMs > 0 ? lagMs : 0;
  }

  /**
   * Whether to process a query read at `nowMs` that the process received at
   * `receivedAtMs` (earlier when it waited in a queue of the process's own). Its age is
   * that wait plus the current lag. Shedding starts when an age exceeds `maxLagMs` and
   * stops when one is under half of it (hysteresis: no flapping at the bound); while
   * shedding, every query is dropped, which drains the socket buffer oldest first.
   */
  admit(nowMs: number = this.clock.now(), receivedAtMs: number = nowMs): boolean {
    const max = this.config.maxLagMs;
    if (max === 0) {
      this.counters.admitted++;
      return true;
    }
    const age = this.lag(nowMs) + (nowMs - receivedAtMs);
    if (this.isShedding) {
      if (age < max / 2) this.isShedding = false;
    } else if (age > max) {
      this.isShedding = true;
      this.counters.episodes++;
    }
    if (this.isShedding) {
      this.counters.shed++;
      return false;
    }
    this.counters.admitted++;
    return true;
  }

  private arm(): void {
    const period = this.config.sampleMs;
    this.due = this.clock.now() + period;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.recordLag(this.clock.now() - this.due);
      this.due = NaN;
      if (this.running) this.arm();
    }, period);
  }
}
