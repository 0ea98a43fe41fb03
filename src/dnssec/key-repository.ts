// Where a zone's DNSSEC keys live: one JSON key per zone (`cdn:dnssec:<zone>:keys`, a list
// of StoredKey) shared by every instance of an NS set, so all of them sign with the same
// keys. Writes announce a `zone` change: the keys are zone content, and every instance
// rebuilds its snapshot with them.
import type { Store } from '../store/store.js';
import { keyState, newStoredKey, parseStoredKeys, type StoredKey } from './keys.js';
import type { AlgorithmNumber } from './algorithm.js';

export const dnssecKey = (zone: string) => `cdn:dnssec:${zone}:keys`;

export class DnssecKeyRepository {
  constructor(private readonly store: Store) {}

  /** The stored keys; [] when none were ever created. */
  async list(zone: string): Promise<StoredKey[]> {
    await this.store.catchUp();
    const text = await this.store.get(dnssecKey(zone));
    return text === undefined ? [] : parseStoredKeys(JSON.parse(text));
  }

  /**
   * Replaces the list when it still is `expected` (compare-and-set on its JSON text):
   * false when another instance wrote first.
   */
  async replace(
    zone: string,
    expected: readonly StoredKey[],
    next: readonly StoredKey[],
  ): Promise<boolean> {
    const key = dnssecKey(zone);
    await this.store.catchUp();
    const text = await this.store.get(key);
    const current = text === undefined ? [] : parseStoredKeys(JSON.parse(text));
    if (JSON.stringify(current) !== JSON.stringify(expected)) return false;
    return this.store.write([{ op: 'set', key, value: JSON.stringify(next) }], {
      if: [{ key, equals: text }],
      change: 'zone',
    });
  }
}

/**
 * The zone's keys, creating its first CSK when none is live: what an instance does at start
 * with DNSSEC enabled. Instances starting together create one key between them (the write is
 * a compare-and-set; the loser reads the winner's).
 */
export async function ensureZoneKey(
  repo: DnssecKeyRepository,
  zone: string,
  algorithm: AlgorithmNumber,
  now = Date.now(),
): Promise<{ keys: StoredKey[]; created: StoredKey | undefined }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const keys = await repo.list(zone);
    if (keys.some((k) => keyState(k, now) !== 'removed')) return { keys, created: undefined };
    const key = newStoredKey(algorithm, now);
    const next = [...keys, key];
    if (await repo.replace(zone, keys, next)) return { keys: next, created: key };
  }
  throw new Error(`DNSSEC keys of ${zone}: the store kept changing under the first key's creation`);
}
