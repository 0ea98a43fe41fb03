// Shedding instead of queueing: when queries wait longer than a client waits for an
// answer, they are dropped, cheaply and counted, so the ones behind them are answered in
// time and latency stays bounded. A query's age is the event-loop lag (a timer due every
// `sampleMs`: how late it fired, or how overdue it is while a long turn runs) plus the
// time it waited in a queue of the process's own since it was read off the socket.
// The lag catches stalls (long turns, GC pauses); it does not see a socket buffer that
// fills while the loop stays responsive: libuv reads at most a batch of datagrams per
// socket per turn (32, `uv__udp_recvmsg`) and runs timers in between. That is the
// backlog: every turn reads a full batch while the socket holds more. When turns have been
// full for `maxBacklogMs` the process is not keeping up, and the queued queries are shed,
// oldest first (they are read off the head of the socket's queue), until a turn reads
// less than a batch: the queue is empty and what arrives next is answered at once. So a
// query that is answered waited at most about `maxBacklogMs` in the socket.
// What a shed query costs (nothing is sent) and which transports are exempt is the caller's.

export interface LoadShedConfig {
  /** Lag above which queries are shed (ms); shedding stops below half of it. 0: never shed. */
  readonly maxLagMs: number;
  /** Period of the lag timer (ms). */
  readonly sampleMs: number;
  /** Queries are shed once every loop turn has read a full batch for this long (ms). 0: never. */
  readonly maxBacklogMs: number;
}

/** Datagrams libuv reads from one socket per loop turn before it runs the rest of the loop. */
export const FULL_TURN = 32;

/** A gap between two turns that read queries longer than this means the loop went idle. */
const IDLE_GAP_MS = 1;

/**
 * 150 ms: under the 376 ms Unbound waits for a server it has no round-trip time for yet,
 * so an answer this late is still one a resolver is waiting for. The backlog bound is off
 * by default: full turns also come from a deep but steady queue (clients keeping many
 * queries in flight near capacity), which it cannot tell from a growing one, so it suits
 * a server whose load is not that (see README, Running on the internet).
 */
export const LOAD_SHED_DEFAULTS: LoadShedConfig = { maxLagMs: 150, sampleMs: 20, maxBacklogMs: 0 };

/** The clock and timer the shedder runs on: the real ones, or a test's fake. */
export interface ShedClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `fn` once the current loop turn's I/O callbacks are done (the check phase). */
  setImmediate(fn: () => void): void;
}

const realClock: ShedClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setImmediate: (fn) => void setImmediate(fn),
};

export interface LoadShedCounters {
  admitted: number;
  shed: number;
  /** Times shedding started. */
  episodes: number;
  /** Of those, the times a backlog started it (the rest: lag). */
  backlogEpisodes: number;
}

/**
 * Lifecycle: create → start → stop (stop also after a failed or missing start). Without
 * a start, `lag` reads 0 unless samples are recorded by hand, and everything is admitted.
 */
export class LoadShedder {
  readonly config: LoadShedConfig;
  readonly counters: LoadShedCounters = { admitted: 0, shed: 0, episodes: 0, backlogEpisodes: 0 };
  /** Queries seen in the current loop turn; the turn's end is armed at the first. */
  private turnQueries = 0;
  /** When the current run of full turns began; NaN when the last turn was not full. */
  private backlogSince = NaN;
  /** When the last turn that read queries ended. */
  private lastTurnEnd = -Infinity;
  /** Datagrams a full turn reads: libuv's batch, or the batched UDP path's (setFullTurn). */
  private fullTurn = FULL_TURN;
  private readonly endTurn = (): void => {
    const full = this.turnQueries >= this.fullTurn;
    this.turnQueries = 0;
    this.lastTurnEnd = this.clock.now();
    if (!full) this.backlogSince = NaN;
    else if (this.backlogSince !== this.backlogSince) this.backlogSince = this.clock.now();
  };
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
    const { maxLagMs, sampleMs, maxBacklogMs } = this.config;
    if (!(maxLagMs >= 0) || !(sampleMs > 0) || !(maxBacklogMs >= 0))
      throw new RangeError('maxLagMs and maxBacklogMs must be ≥ 0 and sampleMs > 0');
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

  /** How many datagrams one loop turn reads when the socket holds more (default FULL_TURN). */
  setFullTurn(datagrams: number): void {
    if (!(datagrams >= 1)) throw new RangeError('a full turn is at least one datagram');
    this.fullTurn = datagrams;
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

  /** Whether the loop turns have been full for longer than `maxBacklogMs` at `nowMs`. */
  backlogged(nowMs: number = this.clock.now()): boolean {
    const bound = this.config.maxBacklogMs;
    return bound > 0 && nowMs - this.backlogSince > bound;
  }

  /**
   * Whether to process a query read at `nowMs` that the process received at
   * `receivedAtMs` (earlier when it waited in a queue of the process's own); to be called
   * once for every query read off a socket, in the I/O callback that read it (it counts
   * the loop turn's queries). Its age is that wait plus the current lag. Shedding starts
   * when an age exceeds `maxLagMs` or the socket has been backlogged for `maxBacklogMs`,
   * and stops once an age is under half of `maxLagMs` and a turn read less than a full
   * batch (hysteresis: no flapping at the bound); while shedding, every query is dropped,
   * which drains the socket buffer oldest first.
   */
  admit(nowMs: number = this.clock.now(), receivedAtMs: number = nowMs): boolean {
    const max = this.config.maxLagMs;
    if (max === 0 && this.config.maxBacklogMs === 0) {
      this.counters.admitted++;
      return true;
    }
    if (this.turnQueries++ === 0) {
      // A turn that begins well after the last one ended found the socket empty before:
      // the loop waited for I/O (a backlogged socket is read turn after turn, back to back).
      if (nowMs - this.lastTurnEnd > IDLE_GAP_MS) this.backlogSince = NaN;
      this.clock.setImmediate(this.endTurn);
    }
    const age = this.lag(nowMs) + (nowMs - receivedAtMs);
    const lagging = max > 0 && age > max;
    if (this.isShedding) {
      if (!(max > 0 && age >= max / 2) && this.backlogSince !== this.backlogSince)
        this.isShedding = false;
    } else if (lagging || this.backlogged(nowMs)) {
      this.isShedding = true;
      this.counters.episodes++;
      if (!lagging) this.counters.backlogEpisodes++;
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
