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

  /**
   * Read-modify-write of the zone text with compare-and-set: `change` gets the stored text
   * (null: none) and returns the text to store, or undefined when there is nothing to write,
   * with a result of its own. When another writer stored first, it runs again on the new
   * text, after a random pause of up to `pauseMs`, at most `attempts` times in all; then
   * 'conflict'. What `change` throws is thrown.
   */
  async edit<T>(
    zone: string,
    change: (text: string | null) => Promise<{ text: string | undefined; result: T }>,
    opts: { attempts: number; pauseMs: number },
  ): Promise<T | 'conflict'> {
    for (let attempt = 1; attempt <= opts.attempts; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * opts.pauseMs));
      await this.store.catchUp();
      const before = await this.get(zone);
      const { text, result } = await change(before);
      if (text === undefined || (await this.replace(zone, before, text))) return result;
    }
    return 'conflict';
  }
}
