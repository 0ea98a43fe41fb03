// Which probe a node gets: its own overrides (`probe` on the node) laid over the config's
// `health.probe`, field by field. Also decides who owns a node's `active` flag: the probes,
// or the API (probe type 'none', or health checks switched off).
import type { Config, ProbeSpec } from '../config/schema.js';
import type { EdgeNode, NodeProbe } from '../model/domain.js';

/** The node's overrides over the defaults; a field the node leaves out (or undefined) keeps the default. */
export function effectiveProbe(defaults: ProbeSpec, override: NodeProbe | undefined): ProbeSpec {
  const spec: ProbeSpec = {
    ...defaults,
    expect: [...defaults.expect],
    headers: { ...defaults.headers },
  };
  if (!override) return spec;
  for (const [k, v] of Object.entries(override) as [keyof ProbeSpec, unknown][]) {
    if (v !== undefined) (spec as Record<keyof ProbeSpec, unknown>)[k] = v;
  }
  return spec;
}

/** The TCP port probed: the spec's, else 443 for https and 80 for http and tcp. */
export function probePort(spec: ProbeSpec): number {
  return spec.port ?? (spec.type === 'https' ? 443 : 80);
}

/** The address probed: IPv4 when the node has one, else IPv6. */
export function probeAddress(node: Pick<EdgeNode, 'ipv4' | 'ipv6'>): string | undefined {
  return node.ipv4 ?? node.ipv6;
}

/**
 * True when the probes decide the node's `active` in this deployment: health checks are on
 * and its effective probe type is not 'none'. The API then keeps the stored `active`.
 */
export function probesOwnActive(config: Config, node: Pick<EdgeNode, 'probe'>): boolean {
  return config.health.enabled && effectiveProbe(config.health.probe, node.probe).type !== 'none';
}

/**
 * What makes two probes the same check: the address and every field that shapes the
 * request or judges the answer. rise and fall are each node's own (its hysteresis), so
 * nodes differing only there share one probe per round.
 */
export function probeKey(address: string, spec: ProbeSpec): string {
  const { rise: _rise, fall: _fall, ...check } = spec;
  const headers = Object.entries(check.headers)
    .map(([k, v]) => [k.toLowerCase(), v])
    .sort();
  return JSON.stringify([address, { ...check, headers, expect: [...check.expect].sort() }]);
}
