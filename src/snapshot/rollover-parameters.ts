// The inputs of a key rollover's timings (dnssec/rollover.ts) read from the zone as the live
// snapshot serves it and from the config.
import type { Config } from '../config/schema.js';
import type { RolloverParameters } from '../dnssec/rollover.js';
import type { Snapshot } from './snapshot.js';

/**
 * The longest TTL a resolver may keep anything of the zone for: every record of the static
 * zone (apex, DNSKEY, challenge values), negative answers, and base-name answers at their
 * plain and failover TTLs.
 */
export function zoneMaxTtl(snapshot: Snapshot): number {
  let max = snapshot.zone.negativeTtl;
  for (const r of snapshot.zone.records()) if (r.ttl > max) max = r.ttl;
  for (const p of snapshot.plans.values()) max = Math.max(max, p.ttl, p.failoverTtl);
  return max;
}

/** A rollover's timings for the zone as the live snapshot serves it (dnssec/rollover.ts). */
export function rolloverParameters(config: Config, snapshot: Snapshot): RolloverParameters {
  const d = config.dnssec;
  return {
    dnskeyTtl: d.keyTtl,
    maxZoneTtl: zoneMaxTtl(snapshot),
    propagationDelay: config.zone.soa.refresh,
    parentDsTtl: d.parentDsTtl,
    parentPropagationDelay: d.parentPropagationSeconds,
    timescale: d.rolloverTimescale,
  };
}
