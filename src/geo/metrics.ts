// GeoIP metrics. The database label is a configured file's base name (bounded by the
// config); result is `success` or `failed`.
import { Counter, Gauge, type Registry } from 'prom-client';

/** The metric already on `registry` under `name`, or a new one: two readers may share one. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function geoMetrics(registry: Registry) {
  const registers = [registry];
  return {
    buildEpoch: once(
      registry,
      'cirrus_geoip_build_epoch_seconds',
      () =>
        new Gauge({
          name: 'cirrus_geoip_build_epoch_seconds',
          help: 'build_epoch of the GeoIP database being served, by file base name',
          labelNames: ['database'] as const,
          registers,
        }),
    ),
    reloads: once(
      registry,
      'cirrus_geoip_reloads_total',
      () =>
        new Counter({
          name: 'cirrus_geoip_reloads_total',
          help: 'GeoIP database files reloaded after a change on disk, by result (success or failed)',
          labelNames: ['database', 'result'] as const,
          registers,
        }),
    ),
  };
}
export type GeoMetrics = ReturnType<typeof geoMetrics>;
