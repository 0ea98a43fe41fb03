// Where each instance reports the serial and content hash it serves: `cdn:instance:{id}`
// (a string, expiring) and their index `cdn:instances` (sorted set scored by the ms of the
// last write), so readers need no SCAN over the keyspace.
import type { Store } from '../store/store.js';

export const instanceKeys = {
  instance: (id: string) => `cdn:instance:${id}`,
  instances: 'cdn:instances',
} as const;

/** How long an instance stays in the index after its last write, beyond its report's TTL. */
const INDEX_SLACK_MS = 60_000;

export class InstanceRepository {
  constructor(private readonly store: Store) {}

  /**
   * This instance's report, expiring after ttlSec. About this process and rewritten every
   * interval: volatile, so the embedded engine keeps it in memory and never in its file.
   */
  async put(id: string, value: string, ttlSec: number): Promise<void> {
    const now = Date.now();
    await this.store.write(
      [
        { op: 'set', key: instanceKeys.instance(id), value, ttlMs: ttlSec * 1000 },
        { op: 'zadd', key: instanceKeys.instances, member: id, score: now },
        { op: 'zremMax', key: instanceKeys.instances, max: now - ttlSec * 1000 - INDEX_SLACK_MS },
      ],
      { volatile: true },
    );
  }

  /** Every unexpired report, by instance id. */
  async list(): Promise<Map<string, string>> {
    const ids = (await this.store.zrange(instanceKeys.instances)).map((e) => e.member);
    const out = new Map<string, string>();
    if (ids.length === 0) return out;
    const values = await this.store.mget(ids.map(instanceKeys.instance));
    ids.forEach((id, i) => {
      const v = values[i];
      if (v !== undefined) out.set(id, v);
    });
    return out;
  }
}
