// Quorum over the instances' views of one node: with several Cirrus instances probing the
// same fleet, a node is down only when enough of them see it down, so one instance with a
// broken network path cannot take the fleet out of the answers. Pure.
import type { HealthView } from '../model/domain.js';
import type { HealthState } from './hysteresis.js';

export type Quorum = 'majority' | number;

export interface QuorumDecision {
  state: HealthState;
  /** Views saying down that make the node down. */
  needed: number;
  up: number;
  down: number;
  unknown: number;
  /** The most recent view (latest lastCheck), if any: its streaks describe the node. */
  freshest: HealthView | undefined;
}

/** Down-views needed: a majority of the views present, or a fixed number of instances. */
export function quorumSize(quorum: Quorum, views: number): number {
  return quorum === 'majority' ? Math.floor(views / 2) + 1 : quorum;
}

/**
 * Down when at least `needed` views say down; else up when any view says up; else unknown
 * (no views, or only unknown ones, or too few down views and no up view to contradict).
 * The views are the unexpired ones; expiry is the store's business.
 */
export function decideQuorum(views: readonly HealthView[], quorum: Quorum): QuorumDecision {
  let up = 0;
  let down = 0;
  let freshest: HealthView | undefined;
  for (const v of views) {
    if (v.state === 'up') up++;
    else if (v.state === 'down') down++;
    if (!freshest || v.lastCheck > freshest.lastCheck) freshest = v;
  }
  const needed = quorumSize(quorum, views.length);
  const state: HealthState = down >= needed ? 'down' : up > 0 ? 'up' : 'unknown';
  return { state, needed, up, down, unknown: views.length - up - down, freshest };
}
