// The zone's DNSSEC state in a snapshot: the keys as they stand at the build's time, the
// apex DNSKEY/CDS/CDNSKEY records, and the signer answers are signed with. What the
// content hash sees of it (dnssecHashPart) changes exactly when the served zone must
// change: a key changes state, or a re-signing period of the transferred zone begins
// (the serial then advances and secondaries take fresh signatures by IXFR).
import type { Config } from '../config/schema.js';
import { apexKeyRecords, keySetAt, type StoredKey } from '../dnssec/keys.js';
import { SignatureCache } from '../dnssec/signature-cache.js';
import { ZoneSigner } from '../dnssec/signer.js';
import type { ResourceRecord } from '../wire/record.js';
import type { RolloverParameters } from '../dnssec/rollover.js';
import type { Snapshot } from './snapshot.js';

export interface SigningContent {
  readonly signer: ZoneSigner;
  readonly apex: readonly ResourceRecord[];
  /** When the zone must be built again for DNSSEC's sake (ms). */
  readonly nextChange: number;
}

/** The length of one re-signing period of transferred zones (ms): half the refresh time. */
export function resignPeriodMs(config: Config): number {
  return (config.dnssec.refreshDays * 86_400_000) / 2;
}

/** Signing applies: enabled, and the zone has keys. */
export function signs(config: Config, keys: readonly StoredKey[] | undefined): boolean {
  return config.dnssec.enabled && keys !== undefined && keys.length > 0;
}

/** The part of the content hash DNSSEC contributes at `now` (undefined: unsigned). */
export function dnssecHashPart(
  config: Config,
  keys: readonly StoredKey[] | undefined,
  now: number,
): string | undefined {
  if (!signs(config, keys)) return undefined;
  const set = keySetAt(keys as StoredKey[], now);
  return JSON.stringify([
    config.dnssec,
    set.published.map((k) => k.stored.id),
    set.signing.map((k) => k.stored.id),
    Math.floor(now / resignPeriodMs(config)),
  ]);
}

export function signingContent(
  config: Config,
  keys: readonly StoredKey[] | undefined,
  now: number,
  previousCache: SignatureCache | undefined,
): SigningContent | undefined {
  if (!signs(config, keys)) return undefined;
  const set = keySetAt(keys as StoredKey[], now);
  const d = config.dnssec;
  const cache = previousCache ?? new SignatureCache(d.signatureCacheEntries);
  const signer = new ZoneSigner(
    config.zone.name,
    set.signing,
    {
      validitySec: d.validityDays * 86_400,
      refreshSec: d.refreshDays * 86_400,
      inceptionOffsetSec: d.inceptionOffsetSeconds,
      jitterSec: d.jitterHours * 3_600,
    },
    cache,
  );
  const period = resignPeriodMs(config);
  const nextPeriod = (Math.floor(now / period) + 1) * period;
  return {
    signer,
    apex: apexKeyRecords(config.zone.name, set, d.keyTtl),
    nextChange: Math.min(nextPeriod, set.nextChange ?? Infinity),
  };
}

/** When the zone is next due for a rebuild: a challenge value expires or DNSSEC changes. */
export function nextDue(
  config: Config,
  keys: readonly StoredKey[] | undefined,
  challengeExpiry: number | undefined,
  now: number,
): number | undefined {
  if (!signs(config, keys)) return challengeExpiry;
  const set = keySetAt(keys as StoredKey[], now);
  const period = resignPeriodMs(config);
  const due = Math.min(
    (Math.floor(now / period) + 1) * period,
    set.nextChange ?? Infinity,
    challengeExpiry ?? Infinity,
  );
  return due;
}

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
