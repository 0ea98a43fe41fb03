// Snapshot metrics: builds by result, build time, and what the live snapshot holds.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function snapshotMetrics(registry: Registry) {
  return {
    builds: new Counter({
      name: 'cirrus_snapshot_builds_total',
      help: 'Snapshot builds by result (ok; unchanged: same content, the live snapshot kept; held: by the publish gate; failed)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    buildSeconds: new Histogram({
      name: 'cirrus_snapshot_build_seconds',
      help: 'Time to read the store and compile a snapshot',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    serial: new Gauge({
      name: 'cirrus_zone_serial',
      help: 'SOA serial being served',
      registers: [registry],
    }),
    domains: new Gauge({
      name: 'cirrus_snapshot_domains',
      help: 'Domains in the live snapshot',
      registers: [registry],
    }),
    nodes: new Gauge({
      name: 'cirrus_snapshot_nodes',
      help: 'Edge nodes in the live snapshot',
      registers: [registry],
    }),
    held: new Gauge({
      name: 'cirrus_snapshot_held',
      help: 'A new snapshot is held by the publish gate (1) for this reason; the live one keeps serving',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    fromLastKnownGood: new Gauge({
      name: 'cirrus_snapshot_from_last_known_good',
      help: 'The live snapshot is the last-known-good file (1) until the store content is published',
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'cirrus_snapshot_last_success_timestamp_seconds',
      help: 'When the live snapshot was published',
      registers: [registry],
    }),
  };
}
export type SnapshotMetrics = ReturnType<typeof snapshotMetrics>;
