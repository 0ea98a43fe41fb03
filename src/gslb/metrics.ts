// GSLB decision metrics. The counter's children are bound once, so counting a decision on
// the hot path is two property reads and an increment.
import { Counter, type Registry } from 'prom-client';
import type { Decision, DecisionKind } from './decide.js';

const KINDS: readonly DecisionKind[] = [
  'map',
  'asn',
  'country',
  'continent',
  'nearest',
  'default',
  'fallback',
];

export function gslbMetrics(registry: Registry): (d: Decision) => void {
  const counter = new Counter({
    name: 'cirrus_gslb_decisions_total',
    help: 'GSLB decisions by the chain step that settled them (fallback = last resort) and address family',
    labelNames: ['decision', 'family'],
    registers: [registry],
  });
  const bound = Object.fromEntries(
    KINDS.map((k) => [k, { 4: counter.labels(k, 'ipv4'), 6: counter.labels(k, 'ipv6') }]),
  ) as Record<DecisionKind, Record<4 | 6, { inc(): void }>>;
  return (d) => bound[d.decision][d.family].inc();
}
