import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoadShedder, type ShedClock } from '../../src/lib/load-shed.js';

/**
 * A clock whose timers fire only when the "event loop" is idle: `work(ms)` is a
 * synchronous turn (time passes, nothing fires), `idle(ms)` lets due timers run in order.
 */
class FakeLoop implements ShedClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  private immediates: (() => void)[] = [];
  setImmediate(fn: () => void): void {
    this.immediates.push(fn);
  }
  /** Ends the current turn: its I/O callbacks are done, the check phase runs. */
  endTurn(): void {
    const run = this.immediates;
    this.immediates = [];
    for (const fn of run) fn();
  }
  get pending(): number {
    return this.timers.length;
  }
  work(ms: number): void {
    this.t += ms;
  }
  /** Runs the timers that are due now (late ones included), then lets `ms` pass idle. */
  idle(ms = 0): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > Math.max(end, this.t)) break;
      this.timers.shift();
      if (next.at > this.t) this.t = next.at;
      next.fn();
    }
    this.t = Math.max(this.t, end);
  }
}

describe('load shedding', () => {
  it('measures lag as the lag timer’s lateness', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 100, sampleMs: 20 }, loop);
    shed.start();
    loop.idle(100);
    assert.equal(shed.lag(), 0, 'an idle loop has no lag');
    loop.work(70); // a 70 ms turn; the timer was due 20 ms into it
    assert.equal(shed.lag(), 50, 'overdue while the turn runs');
    loop.idle();
    assert.equal(shed.lag(), 50, 'the sample the late timer took');
    loop.idle(20);
    assert.equal(shed.lag(), 0, 'on time again');
    shed.stop();
    assert.equal(loop.pending, 0, 'stop leaves no timer behind');
  });

  it('admits everything while the loop keeps up', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 100, sampleMs: 20 }, loop);
    shed.start();
    for (let i = 0; i < 1000; i++) {
      assert.equal(shed.admit(), true);
      loop.work(0.05);
      if (i % 100 === 0) loop.idle(5);
    }
    assert.deepEqual(shed.counters, { admitted: 1000, shed: 0, episodes: 0, backlogEpisodes: 0 });
    shed.stop();
  });

  it('sheds above the bound and resumes only below half of it (hysteresis)', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 100, sampleMs: 20 }, loop);
    for (const [lag, admitted] of [
      [50, true],
      [100, true],
      [101, false], // starts
      [90, false], // still above half
      [50, false], // exactly half is not below it
      [49, true], // stops
      [90, true], // below the bound: keeps admitting
      [150, false],
    ] as const) {
      shed.recordLag(lag);
      assert.equal(shed.admit(0), admitted, `lag ${lag}`);
    }
    assert.deepEqual(shed.counters, { admitted: 4, shed: 4, episodes: 2, backlogEpisodes: 0 });
  });

  it('counts the time a query waited in the process on top of the lag', () => {
    const shed = new LoadShedder({ maxLagMs: 100, sampleMs: 20 }, new FakeLoop());
    shed.recordLag(30);
    assert.equal(shed.admit(1000, 950), true, '30 + 50 ms');
    assert.equal(shed.admit(1000, 880), false, '30 + 120 ms');
  });

  it('drops the backlog of a long stall and answers what arrives after it', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 100, sampleMs: 20 }, loop);
    shed.start();
    loop.idle(100);
    // A 300 ms stall (a big snapshot swap, a GC pause): the socket buffer fills meanwhile.
    loop.work(300);
    // The first 500 queries read after it arrived during the stall: the timer is overdue
    // by 280 ms, so they are shed at 1 µs each.
    let shedCount = 0;
    for (let i = 0; i < 500; i++) {
      if (!shed.admit()) shedCount++;
      loop.work(0.001);
    }
    assert.equal(shedCount, 500);
    // The loop turns; the late timer records the stall, the next one finds it on time.
    loop.idle();
    loop.idle(20);
    assert.equal(shed.admit(), true, 'fresh queries are answered');
    assert.equal(shed.shedding, false);
    assert.equal(shed.counters.episodes, 1);
    shed.stop();
  });

  it('keeps the wait of a queue of its own bounded under an overload, dropping oldest first', () => {
    // Queries are stamped when read off the socket into a queue of the process's own and
    // cost 1 ms each; 2,000 arrive a second for 5 s, twice the capacity. Served in order
    // without shedding, the wait grows by 0.5 s every second (2.5 s at the end); with it,
    // the queries that waited too long are dropped at 10 µs each and no answered one waits
    // much past the bound.
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 100, sampleMs: 20 }, loop);
    shed.start();
    const arrivals: number[] = [];
    for (let t = 0; t < 5000; t += 0.5) arrivals.push(t);
    let worstAnswered = 0;
    let answered = 0;
    for (const at of arrivals) {
      if (loop.t < at) loop.idle(at - loop.t);
      if (shed.admit(loop.t, at)) {
        loop.work(1);
        answered++;
        worstAnswered = Math.max(worstAnswered, loop.t - at);
      } else loop.work(0.01);
      loop.idle();
    }
    shed.stop();
    assert.ok(worstAnswered <= 101, `worst answered wait ${worstAnswered} ms`);
    assert.ok(
      answered >= 4900,
      `answered ${answered} of ${arrivals.length}: the capacity is 5,000`,
    );
    assert.equal(shed.counters.shed + shed.counters.admitted, arrivals.length);
    assert.ok(shed.counters.shed > 4000);
  });

  it('never sheds with maxLagMs 0, and start does not arm a timer', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 0 }, loop);
    shed.start();
    assert.equal(loop.pending, 0);
    shed.recordLag(10_000);
    assert.equal(shed.admit(0), true);
    shed.stop();
  });

  /** One loop turn that reads `n` queries, each taking `perQueryMs`; what was admitted. */
  function turn(loop: FakeLoop, shed: LoadShedder, n: number, perQueryMs: number): number {
    let admitted = 0;
    for (let i = 0; i < n; i++) {
      if (shed.admit()) {
        admitted++;
        loop.work(perQueryMs);
      } else loop.work(perQueryMs / 20); // a dropped query costs a read, not an answer
    }
    loop.endTurn();
    return admitted;
  }

  it('sheds a socket backlog oldest first once turns have been full for maxBacklogMs', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 0, maxBacklogMs: 10 }, loop);
    // Full turns of 32 answered queries at 0.04 ms: 1.28 ms each, 7 turns = 9 ms: not yet.
    for (let i = 0; i < 7; i++) assert.equal(turn(loop, shed, 32, 0.04), 32);
    assert.equal(shed.shedding, false);
    // The 9th full turn passes the bound: from there the turn's queries are dropped.
    assert.equal(turn(loop, shed, 32, 0.04), 32);
    const admitted = turn(loop, shed, 32, 0.04);
    assert.ok(admitted < 32, `admitted ${admitted} of a full turn past the bound`);
    assert.equal(shed.shedding, true);
    assert.equal(shed.counters.backlogEpisodes, 1);
    // Draining: full turns of dropped queries; then a turn reads less than a batch, the
    // socket is empty, and the next query is answered.
    assert.equal(turn(loop, shed, 32, 0.04), 0);
    assert.equal(turn(loop, shed, 5, 0.04), 0, 'the last of the backlog is dropped too');
    assert.equal(turn(loop, shed, 3, 0.04), 3, 'answered again once a turn was not full');
    assert.equal(shed.shedding, false);
    // A backlog that ends with a full turn: the next query, after the loop idled, is answered.
    for (let i = 0; i < 12; i++) turn(loop, shed, 32, 0.04);
    assert.equal(shed.shedding, true);
    loop.idle(5);
    assert.equal(turn(loop, shed, 1, 0.04), 1, 'a turn after an idle wait starts afresh');
  });

  it('does not shed for full turns shorter than maxBacklogMs, nor with it at 0', () => {
    const loop = new FakeLoop();
    const shed = new LoadShedder({ maxLagMs: 0, maxBacklogMs: 10 }, loop);
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 5; i++) assert.equal(turn(loop, shed, 32, 0.04), 32);
      assert.equal(turn(loop, shed, 4, 0.04), 4, 'a short burst ends with a partial turn');
    }
    assert.equal(shed.counters.shed, 0);
    const off = new LoadShedder({ maxLagMs: 0, maxBacklogMs: 0 }, loop);
    for (let i = 0; i < 100; i++) assert.equal(turn(loop, off, 32, 0.04), 32);
    assert.equal(off.counters.shed, 0);
  });

  it('stops cleanly without having started, and refuses nonsense', () => {
    new LoadShedder({}, new FakeLoop()).stop();
    assert.throws(() => new LoadShedder({ maxLagMs: -1 }), RangeError);
    assert.throws(() => new LoadShedder({ sampleMs: 0 }), RangeError);
    assert.throws(() => new LoadShedder({ maxBacklogMs: -1 }), RangeError);
  });
});
