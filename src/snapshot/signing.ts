// The zone's DNSSEC state in a snapshot: the keys as they stand at the build's time, the
// apex DNSKEY/CDS/CDNSKEY records, and the signer answers are signed with. What the
// content hash sees of it (dnssecHashPart) changes exactly when the served zone must
// change: a key changes state, or a re-signing period of the transferred zone begins
// (the serial then advances and secondaries take fresh signatures by IXFR).
import type { Config } from '../config/schema.js';
import { apexKeyRecords, keySetAt, type StoredKey } from '../dnssec/keys.js';
import { SignatureCache, ZoneSignatures } from '../dnssec/signature-cache.js';
import { ZoneSigner } from '../dnssec/signer.js';
import type { ResourceRecord } from '../wire/record.js';

export interface SigningContent {
  readonly signer: ZoneSigner;
  readonly apex: readonly ResourceRecord[];
  /** The signatures of the zone as transferred (export.ts), reusing the previous version's. */
  readonly transferSignatures: ZoneSignatures;
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
  previousTransfer?: ZoneSignatures | undefined,
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
  return {
    signer,
    apex: apexKeyRecords(config.zone.name, set, d.keyTtl),
    transferSignatures: new ZoneSignatures(previousTransfer),
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
