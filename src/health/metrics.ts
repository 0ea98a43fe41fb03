// Health checker metrics. Labels are bounded: probe type, result, node id and pool (the
// fleet is operator-defined), and the state a node moved to. Never an address.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The metric already on `registry` under `name`, or a new one: two checkers may share one. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function healthMetrics(registry: Registry) {
  const registers = [registry];
  const probeDuration = once(
    registry,
    'cirrus_probe_duration_seconds',
    () =>
      new Histogram({
        name: 'cirrus_probe_duration_seconds',
        help: 'Health probe duration, by probe type and result (ok or fail)',
        labelNames: ['type', 'result'] as const,
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
  );
  const probes = once(
    registry,
    'cirrus_probes_total',
    () =>
      new Counter({
        name: 'cirrus_probes_total',
        help: 'Health probes run, by result (ok or fail)',
        labelNames: ['result'] as const,
        registers,
      }),
  );
  const shared = once(
    registry,
    'cirrus_probes_shared_total',
    () =>
      new Counter({
        name: 'cirrus_probes_shared_total',
        help: 'Node checks answered by a probe another node with the same check made in the same round',
        registers,
      }),
  );
  const nodeUp = once(
    registry,
    'cirrus_node_up',
    () =>
      new Gauge({
        name: 'cirrus_node_up',
        help: 'Whether an edge node is active (1) or not (0), as this instance knows it',
        labelNames: ['node', 'pool'] as const,
        registers,
      }),
  );
  const transitions = once(
    registry,
    'cirrus_health_transitions_total',
    () =>
      new Counter({
        name: 'cirrus_health_transitions_total',
        help: 'Node state changes written by the health leader, by new state',
        labelNames: ['to'] as const,
        registers,
      }),
  );
  // Both series exist from the start, so a rate over them reads 0 before the first flip.
  for (const to of ['up', 'down']) transitions.inc({ to }, 0);
  return { probeDuration, probes, shared, nodeUp, transitions };
}
export type HealthMetrics = ReturnType<typeof healthMetrics>;
