// GSLB decision metrics. One tally per decision and family (metrics/tally.ts), so counting
// a decision on the hot path is two property reads and an increment.
import type { Registry } from 'prom-client';
import { tallyCounter } from '../metrics/tally.js';
import type { Decision, DecisionKind } from './decide.js';

const KINDS: readonly DecisionKind[] = [
  'map',
  'asn',
  'country',
  'continent',
  'nearest',
  'default',
  'family',
  'fallback',
];

export function gslbMetrics(registry: Registry): (d: Decision) => void {
  const counter = tallyCounter({
    name: 'cirrus_gslb_decisions_total',
    help: 'GSLB decisions by the chain step that settled them (family = nearest pool with the family, fallback = last resort) and address family',
    labelNames: ['decision', 'family'],
    registers: [registry],
  });
  const bound = Object.fromEntries(
    KINDS.map((k) => [
      k,
      {
        4: counter.tally({ decision: k, family: 'ipv4' }),
        6: counter.tally({ decision: k, family: 'ipv6' }),
      },
    ]),
  ) as Record<DecisionKind, Record<4 | 6, { inc(): void }>>;
  return (d) => bound[d.decision][d.family].inc();
}
