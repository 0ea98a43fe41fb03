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
   * Read-modify-write of the key list with compare-and-set on its stored text: `change`
   * gets the stored keys and returns the list to store (undefined: nothing to write) with a
   * result of its own; run again on the new list when another instance wrote first, at most
   * `attempts` times in all, then 'conflict'. What `change` throws is thrown.
   */
  async edit<T>(
    zone: string,
    change: (keys: StoredKey[]) => { keys: readonly StoredKey[] | undefined; result: T },
    attempts = 5,
  ): Promise<T | 'conflict'> {
    const key = dnssecKey(zone);
    for (let attempt = 0; attempt < attempts; attempt++) {
      await this.store.catchUp();
      const text = await this.store.get(key);
      const { keys, result } = change(text === undefined ? [] : parseStoredKeys(JSON.parse(text)));
      if (keys === undefined) return result;
      const written = await this.store.write([{ op: 'set', key, value: JSON.stringify(keys) }], {
        if: [{ key, equals: text }],
        change: 'zone',
      });
      if (written) return result;
    }
    return 'conflict';
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
  const done = await repo.edit<{ keys: StoredKey[]; created: StoredKey | undefined }>(
    zone,
    (keys) => {
      if (keys.some((k) => keyState(k, now) !== 'removed'))
        return { keys: undefined, result: { keys, created: undefined } };
      const created = newStoredKey(algorithm, now);
      const next = [...keys, created];
      return { keys: next, result: { keys: next, created } };
    },
  );
  if (done === 'conflict')
    throw new Error(
      `DNSSEC keys of ${zone}: the store kept changing under the first key's creation`,
    );
  return done;
}
