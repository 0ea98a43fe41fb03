// Where the SOA serial is kept: `cdn:soa:{zone}`, a hash of the serial and the content hash
// it was assigned to, so every instance sharing a store agrees on one serial per content.
import type { Store } from '../store/store.js';
import { nextSerial } from './serial.js';

export const serialKeys = {
  soa: (zone: string) => `cdn:soa:${zone}`,
} as const;

/** A compare-and-set that lost to another instance is read again this often. */
const RETRIES = 20;

export class SerialRepository {
  constructor(private readonly store: Store) {}

  /**
   * The SOA serial for `contentHash`: the stored one when the hash is unchanged, else
   * nextSerial(stored, floor), stored with the hash on the condition that nobody stored
   * another meanwhile (then the winner's serial is read back). Serial bookkeeping is not a
   * content change: nothing is announced.
   */
  async advance(zone: string, contentHash: string, floor: number): Promise<number> {
    const key = serialKeys.soa(zone);
    for (let attempt = 0; ; attempt++) {
      const [cur = {}] = await this.store.hgetall([key]);
      const prev = cur.serial === undefined ? undefined : Number(cur.serial);
      if (prev !== undefined && Number.isFinite(prev) && cur.hash === contentHash) return prev;
      const serial = nextSerial(
        prev !== undefined && Number.isFinite(prev) ? prev : undefined,
        floor,
      );
      const done = await this.store.write(
        [{ op: 'hset', key, fields: { serial: String(serial), hash: contentHash } }],
        {
          if: [
            { key, field: 'serial', equals: cur.serial },
            { key, field: 'hash', equals: cur.hash },
          ],
        },
      );
      if (done) return serial;
      if (attempt >= RETRIES) throw new Error(`SOA serial of ${zone} kept changing`);
    }
  }
}
