// One prom-client registry per server instance (no global default registry), so tests
// can run several servers in one process. Subsystems declare their metrics beside them.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(withProcessMetrics = true): Registry {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'cirrus_' });
  return registry;
}
