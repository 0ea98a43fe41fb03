// When could a node's state change at the earliest? The lower bound the GSLB TTL is cut
// to (gdnsd's rule; gslb/health-bound.ts applies it). Pure. It follows how the prober
// runs: probes on epoch-aligned ticks every `intervalSec` (schedule.ts), one quick
// recheck `recheckMs` after a first failure of a node not down (checker.ts), rise/fall
// hysteresis per instance (hysteresis.ts) and a quorum over the instances' views, each
// expiring `viewTtlSec` after its last write (quorum.ts). Leader and snapshot delays only
// make a flip later, so leaving them out keeps the bound a lower bound.
import type { HealthView } from '../model/domain.js';
import type { NodeBound } from '../gslb/health-bound.js';
import { decideQuorum, type Quorum } from './quorum.js';

export interface ProbeTiming {
  readonly intervalSec: number;
  readonly rise: number;
  readonly fall: number;
  /** 0: no recheck. */
  readonly recheckMs: number;
}

/** The n-th tick (n ≥ 1) after epoch ms `t`, ticks at multiples of `intervalMs`. */
function tick(t: number, intervalMs: number, n: number): number {
  return (Math.floor(t / intervalMs) + n) * intervalMs;
}

/**
 * The earliest epoch ms at which a view last written at `at` with these streaks reaches
 * `fall` consecutive failures. Probes come on the ticks after `at`, plus the recheck
 * after a first failure: from failStreak 0 the failures can land on tick 1, tick 1 +
 * recheck, tick 2, …; from failStreak 1 the recheck is already due at `at` + recheck.
 */
export function downAt(failStreak: number, at: number, t: ProbeTiming): number {
  const I = t.intervalSec * 1000;
  const k = Math.max(1, t.fall - failStreak);
  const R = t.recheckMs > 0 && t.recheckMs < I ? t.recheckMs : 0;
  if (failStreak === 0) {
    if (k === 1) return tick(at, I, 1);
    if (R && k === 2) return tick(at, I, 1) + R;
    return tick(at, I, R ? k - 1 : k);
  }
  if (failStreak === 1 && R) return k === 1 ? Math.min(at + R, tick(at, I, 1)) : tick(at, I, k - 1);
  return tick(at, I, k);
}

/** The earliest epoch ms at which the view reaches `rise` consecutive successes (ticks only). */
export function upAt(okStreak: number, at: number, t: ProbeTiming): number {
  return tick(at, t.intervalSec * 1000, Math.max(1, t.rise - okStreak));
}

/** The earliest epoch ms at which one instance's view of the node could change state. */
export function viewFlipAt(v: HealthView, t: ProbeTiming): number {
  const at = Date.parse(v.lastCheck);
  if (Number.isNaN(at)) return -Infinity;
  if (v.state === 'up') return downAt(v.failStreak, at, t);
  if (v.state === 'down') return upAt(v.okStreak, at, t);
  return Math.min(downAt(v.failStreak, at, t), upAt(v.okStreak, at, t));
}

/** The k-th smallest of `xs` (k ≥ 1); Infinity when there are fewer. */
function kth(xs: number[], k: number): number {
  if (k < 1) return -Infinity;
  if (xs.length < k) return Infinity;
  xs.sort((a, b) => a - b);
  return xs[k - 1] as number;
}

/**
 * The bound of a node from every unexpired view of it: unknown while the quorum is; else
 * the earliest moment the quorum could say otherwise.
 *  - up (fewer than `needed` down views): `needed − down` more views must go down, so
 *    the (needed − down)-th earliest down time among the others; or an expiry of a view
 *    not down (fewer views, a smaller majority).
 *  - down: `down − needed + 1` down views must go up or expire.
 * A view that cannot be read (bad time) makes the node's bound "now" (-Infinity).
 */
export function nodeBound(
  views: readonly HealthView[],
  t: ProbeTiming,
  quorum: Quorum,
  viewTtlSec: number,
): NodeBound {
  const q = decideQuorum(views, quorum);
  if (q.state === 'unknown') return { at: -Infinity, unknown: true };
  const ttl = viewTtlSec * 1000;
  const expiry = (v: HealthView) => Date.parse(v.lastCheck) + ttl;
  const flips: number[] = [];
  let at = Infinity;
  if (q.state === 'up') {
    for (const v of views) {
      if (v.state === 'down') continue;
      flips.push(viewFlipAt(v, t));
      at = Math.min(at, expiry(v));
    }
    at = Math.min(at, kth(flips, q.needed - q.down));
  } else {
    for (const v of views)
      if (v.state === 'down') flips.push(Math.min(viewFlipAt(v, t), expiry(v)));
    at = kth(flips, q.down - q.needed + 1);
  }
  return { at: Number.isNaN(at) ? -Infinity : at, unknown: false, up: q.state === 'up' };
}
