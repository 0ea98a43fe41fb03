// Where the hidden master keeps its state: TSIG keys and secondaries managed through the API
// (`cdn:xfr:peers`, JSON), the zone version last offered to secondaries
// (`cdn:xfr:version:{zone}`, hash: serial, soa, records) and the IXFR journal
// (`cdn:xfr:journal:{zone}`, list of JSON diffs, oldest first).
import type { Store } from '../store/store.js';
import type { JournalEntry, ZoneVersion } from './journal.js';
import type { PeersDocument } from './peers.js';

export const xfrKeys = {
  xfrPeers: 'cdn:xfr:peers',
  xfrVersion: (zone: string) => `cdn:xfr:version:${zone}`,
  xfrJournal: (zone: string) => `cdn:xfr:journal:${zone}`,
} as const;

export class XfrRepository {
  constructor(private readonly store: Store) {}

  async getPeers(): Promise<PeersDocument | null> {
    const [doc] = await this.store.getJson([xfrKeys.xfrPeers]);
    return doc === undefined ? null : (doc as PeersDocument);
  }

  /** Stored whole; a change event of kind 'xfr' (not zone content: the serial stays). */
  async putPeers(doc: PeersDocument): Promise<void> {
    await this.store.write([{ op: 'setJson', key: xfrKeys.xfrPeers, value: doc }], {
      change: 'xfr',
    });
  }

  async getZoneVersion(zone: string): Promise<ZoneVersion | null> {
    const [h = {}] = await this.store.hgetall([xfrKeys.xfrVersion(zone)]);
    if (h.serial === undefined || h.soa === undefined || h.records === undefined) return null;
    return { serial: Number(h.serial), soa: h.soa, records: JSON.parse(h.records) as string[] };
  }

  /**
   * Compare-and-set: stores `next` and appends `entry` (when not null) to the journal (the
   * last `maxEntries` kept) only if the stored version's serial is still `expected` (null:
   * none stored). False when another writer won.
   */
  async commitZoneVersion(
    zone: string,
    expected: number | null,
    next: ZoneVersion,
    entry: JournalEntry | null,
    maxEntries: number,
  ): Promise<boolean> {
    const key = xfrKeys.xfrVersion(zone);
    return this.store.write(
      [
        {
          op: 'hset',
          key,
          fields: {
            serial: String(next.serial),
            soa: next.soa,
            records: JSON.stringify(next.records),
          },
        },
        ...(entry
          ? [
              {
                op: 'rpush' as const,
                key: xfrKeys.xfrJournal(zone),
                values: [JSON.stringify(entry)],
                keep: maxEntries,
              },
            ]
          : []),
      ],
      { if: [{ key, field: 'serial', equals: expected === null ? undefined : String(expected) }] },
    );
  }

  async loadJournal(zone: string): Promise<JournalEntry[]> {
    return (await this.store.lrange(xfrKeys.xfrJournal(zone))).map(
      (e) => JSON.parse(e) as JournalEntry,
    );
  }
}
