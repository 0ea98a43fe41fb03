// Where a zone's static records are kept: `cdn:zonefile:{zone}`, RFC 1035 zone text.
import type { Store } from '../store/store.js';

export const zoneKeys = {
  zoneText: (zone: string) => `cdn:zonefile:${zone}`,
} as const;

export class ZoneTextRepository {
  constructor(private readonly store: Store) {}

  /** Null when none was ever stored. */
  async get(zone: string): Promise<string | null> {
    return (await this.store.get(zoneKeys.zoneText(zone))) ?? null;
  }

  async put(zone: string, text: string): Promise<void> {
    await this.store.write([{ op: 'set', key: zoneKeys.zoneText(zone), value: text }], {
      change: 'zone',
    });
  }

  /**
   * Stores `text` only if the stored text is still `expected` (null: none stored), in one
   * atomic step: false when another writer came first and nothing was written.
   */
  async replace(zone: string, expected: string | null, text: string): Promise<boolean> {
    const key = zoneKeys.zoneText(zone);
    return this.store.write([{ op: 'set', key, value: text }], {
      if: [{ key, equals: expected ?? undefined }],
      change: 'zone',
    });
  }
}
