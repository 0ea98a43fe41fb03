// Rise/fall hysteresis: a node goes up after `rise` consecutive successes and down after
// `fall` consecutive failures, so one lost probe does not move traffic (HAProxy's rise/fall).
// Pure: the checker keeps one per node and decides what a state change means.

export type HealthState = 'unknown' | 'up' | 'down';

export interface Hysteresis {
  readonly state: HealthState;
  /** Consecutive successes / failures; one of them is always 0. */
  readonly okStreak: number;
  readonly failStreak: number;
}

/**
 * The state before any probe: `unknown`, or a warm start from a known state (the stored
 * one after a restart), which then needs `fall` failures to go down, not a fresh verdict.
 */
export function initialHysteresis(from: HealthState = 'unknown'): Hysteresis {
  return { state: from, okStreak: 0, failStreak: 0 };
}

/** One probe result. From `unknown`, whichever of rise and fall is reached first wins. */
export function stepHysteresis(h: Hysteresis, ok: boolean, rise: number, fall: number): Hysteresis {
  if (ok) {
    const okStreak = h.okStreak + 1;
    return { state: okStreak >= rise ? 'up' : h.state, okStreak, failStreak: 0 };
  }
  const failStreak = h.failStreak + 1;
  return { state: failStreak >= fall ? 'down' : h.state, okStreak: 0, failStreak };
}
