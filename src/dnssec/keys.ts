// A zone's DNSSEC keys as stored and as they stand at a moment. Every key is a combined
// signing key (CSK, flags 257): it signs every RRset, the DNSKEY set included. A key's
// life is four times (RFC 7583 §3.3): published (its DNSKEY is served), active (it signs),
// retired (it stops signing), removed (its DNSKEY is withdrawn). Between a new key's
// activation and the old key's retirement both sign (double signature), so every answer
// validates under either DS while the parent's DS changes.
import { generatePrivateKey, loadSigningKey, type AlgorithmNumber } from './algorithm.js';
import { CSK_FLAGS, dnskeyRdata, dsRdata, keyTag } from './records.js';
import type { ActiveKey } from './signer.js';
import { RRClass } from '../wire/constants.js';
import type { ResourceRecord } from '../wire/record.js';
import { RRType } from '../wire/constants.js';

export interface StoredKey {
  /** Key tag and creation time, unique within the zone. */
  readonly id: string;
  readonly algorithm: AlgorithmNumber;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** ms since the epoch. */
  readonly created: number;
  readonly publish: number;
  readonly activate: number;
  readonly retire: number | null;
  readonly remove: number | null;
}

/** A stored key, loaded: its DNSKEY rdata and tag. */
export interface LoadedKey extends ActiveKey {
  readonly stored: StoredKey;
  readonly dnskey: Buffer;
}

export type KeyState = 'created' | 'published' | 'active' | 'retired' | 'removed';

export function keyState(k: StoredKey, now: number): KeyState {
  if (k.remove !== null && now >= k.remove) return 'removed';
  if (k.retire !== null && now >= k.retire) return 'retired';
  if (now >= k.activate) return 'active';
  if (now >= k.publish) return 'published';
  return 'created';
}

/** A new key, published and active from `now` unless told otherwise. */
export function newStoredKey(
  algorithm: AlgorithmNumber,
  now: number,
  times: { publish?: number; activate?: number } = {},
): StoredKey {
  const privateKey = generatePrivateKey(algorithm);
  const loaded = loadSigningKey(algorithm, privateKey);
  const tag = keyTag(dnskeyRdata(CSK_FLAGS, algorithm, loaded.publicKey));
  return {
    id: `${tag}-${now}`,
    algorithm,
    privateKey,
    created: now,
    publish: times.publish ?? now,
    activate: times.activate ?? now,
    retire: null,
    remove: null,
  };
}

export function loadKey(stored: StoredKey): LoadedKey {
  const key = loadSigningKey(stored.algorithm, stored.privateKey);
  const dnskey = dnskeyRdata(CSK_FLAGS, stored.algorithm, key.publicKey);
  return { stored, key, dnskey, tag: keyTag(dnskey) };
}

/** Checks a stored key list read from the store; throws naming what is wrong. */
export function parseStoredKeys(value: unknown): StoredKey[] {
  if (!Array.isArray(value)) throw new Error('DNSSEC keys: not a list');
  return value.map((v, i) => {
    const k = v as Partial<StoredKey>;
    const where = `DNSSEC key ${i}`;
    if (typeof k.id !== 'string') throw new Error(`${where}: no id`);
    if (k.algorithm !== 13 && k.algorithm !== 15)
      throw new Error(`${where}: algorithm ${String(k.algorithm)} is not 13 or 15`);
    if (typeof k.privateKey !== 'string') throw new Error(`${where}: no private key`);
    for (const f of ['created', 'publish', 'activate'] as const)
      if (typeof k[f] !== 'number') throw new Error(`${where}: ${f} is not a time`);
    for (const f of ['retire', 'remove'] as const)
      if (k[f] !== null && typeof k[f] !== 'number')
        throw new Error(`${where}: ${f} is not a time or null`);
    return k as StoredKey;
  });
}

/** What the zone serves from its keys at `now`. */
export interface KeySet {
  /** DNSKEY published: published, active and retired keys. */
  readonly published: readonly LoadedKey[];
  /** Keys that sign: active ones. */
  readonly signing: readonly LoadedKey[];
  /** When the next key changes state (ms), for the next build; undefined: none planned. */
  readonly nextChange: number | undefined;
}

export function keySetAt(keys: readonly StoredKey[], now: number): KeySet {
  const published: LoadedKey[] = [];
  const signing: LoadedKey[] = [];
  let nextChange: number | undefined;
  for (const k of keys) {
    const state = keyState(k, now);
    for (const t of [k.publish, k.activate, k.retire, k.remove])
      if (t !== null && t > now && (nextChange === undefined || t < nextChange)) nextChange = t;
    if (state === 'created' || state === 'removed') continue;
    const loaded = loadKey(k);
    published.push(loaded);
    if (state === 'active') signing.push(loaded);
  }
  // Never unsigned while a key is published: the oldest retired key keeps signing.
  if (signing.length === 0 && published.length > 0) signing.push(published[0] as LoadedKey);
  return { published, signing, nextChange };
}

/**
 * The key the parent's DS should name: the signing key activated last. During a rollover's
 * double signature that is the new key, so CDS/CDNSKEY move to it as soon as it signs.
 */
export function dsKey(set: KeySet): LoadedKey | undefined {
  let best: LoadedKey | undefined;
  for (const k of set.signing)
    if (
      !best ||
      k.stored.activate > best.stored.activate ||
      (k.stored.activate === best.stored.activate && k.stored.created > best.stored.created)
    )
      best = k;
  return best;
}

/**
 * The apex records of the key set: DNSKEY for every published key; CDS and CDNSKEY
 * (RFC 7344, RFC 8078) for the key the parent's DS should name (dsKey).
 */
export function apexKeyRecords(zone: string, set: KeySet, ttl: number): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  const rec = (type: number, rdata: Buffer): ResourceRecord => ({
    name: zone,
    type,
    class: RRClass.IN,
    ttl,
    rdata,
  });
  for (const k of set.published) out.push(rec(RRType.DNSKEY, k.dnskey));
  const parent = dsKey(set);
  if (parent) {
    out.push(rec(RRType.CDS, dsRdata(zone, parent.dnskey)));
    out.push(rec(RRType.CDNSKEY, parent.dnskey));
  }
  return out;
}
