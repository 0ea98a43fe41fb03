// Cross-instance consistency: each instance writes the serial and content hash it serves to
// `cdn:instance:{id}` (with a TTL) and reads everyone's; an instance whose content hash is not
// the majority's for longer than `disagreeAfterSec` is counted, so an alert can fire.
import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { InstanceRepository } from './instance-record.js';
import type { Logger } from '../lib/logger.js';
import type { Snapshot } from './snapshot.js';
import type { SnapshotSource } from './manager.js';

/** What one instance writes about itself. */
export interface InstanceBeacon {
  serial: number;
  contentHash: string;
  source: SnapshotSource;
  /** When it was written (ms). */
  at: number;
}

export interface InstanceStatus extends InstanceBeacon {
  id: string;
  ageSeconds: number;
  /** Serves the content most instances serve (ties: the highest serial's side). */
  agrees: boolean;
  /** How long it has been off the majority, as seen by this instance. */
  disagreeingSeconds: number;
  self: boolean;
}

export interface InstanceTrackerDeps {
  config: Config;
  instances: InstanceRepository;
  logger: Logger;
  registry: Registry;
  id: string;
  snapshot: () => Snapshot;
  source: () => SnapshotSource;
}

function parseBeacon(raw: string): InstanceBeacon | undefined {
  try {
    const b = JSON.parse(raw) as Partial<InstanceBeacon>;
    if (typeof b.serial !== 'number' || typeof b.contentHash !== 'string') return undefined;
    return {
      serial: b.serial,
      contentHash: b.contentHash,
      source: b.source === 'last-known-good' ? 'last-known-good' : 'store',
      at: typeof b.at === 'number' ? b.at : 0,
    };
  } catch {
    return undefined;
  }
}

/** The majority content hash: most instances, ties broken by the highest serial. */
export function majorityHash(beacons: readonly InstanceBeacon[]): string | undefined {
  const votes = new Map<string, { n: number; serial: number }>();
  for (const b of beacons) {
    const v = votes.get(b.contentHash) ?? { n: 0, serial: b.serial };
    votes.set(b.contentHash, { n: v.n + 1, serial: Math.max(v.serial, b.serial) });
  }
  let best: [string, { n: number; serial: number }] | undefined;
  for (const e of votes) {
    if (!best || e[1].n > best[1].n || (e[1].n === best[1].n && e[1].serial > best[1].serial))
      best = e;
  }
  return best?.[0];
}

export class InstanceTracker {
  private timer: NodeJS.Timeout | undefined;
  /** Instance id → when this instance first saw it off the majority (ms). */
  private readonly offSince = new Map<string, number>();
  private readonly disagreeing: Gauge;

  constructor(private readonly deps: InstanceTrackerDeps) {
    this.disagreeing = new Gauge({
      name: 'cirrus_instances_disagreeing',
      help: 'Instances whose content hash has differed from the majority for longer than snapshot.instances.disagreeAfterSec',
      registers: [deps.registry],
    });
  }

  start(): void {
    const tick = () => {
      this.beat().catch((err: unknown) =>
        this.deps.logger.debug({ err }, 'instance beacon not written'),
      );
    };
    tick();
    this.timer = setInterval(tick, this.deps.config.snapshot.instances.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Writes this instance's beacon, then reads everyone's (updating the metric). */
  async beat(): Promise<InstanceStatus[]> {
    const s = this.deps.snapshot();
    const beacon: InstanceBeacon = {
      serial: s.serial,
      contentHash: s.contentHash,
      source: this.deps.source(),
      at: Date.now(),
    };
    await this.deps.instances.put(
      this.deps.id,
      JSON.stringify(beacon),
      this.deps.config.snapshot.instances.ttlSec,
    );
    return this.list();
  }

  /** Every instance heard of within the TTL, this one included, oldest id first. */
  async list(): Promise<InstanceStatus[]> {
    const now = Date.now();
    const raw = await this.deps.instances.list();
    const beacons = [...raw]
      .map(([id, v]) => [id, parseBeacon(v)] as const)
      .filter((e): e is readonly [string, InstanceBeacon] => e[1] !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const majority = majorityHash(beacons.map(([, b]) => b));
    const bound = this.deps.config.snapshot.instances.disagreeAfterSec * 1000;
    const seen = new Set<string>();
    let counted = 0;
    const out = beacons.map(([id, b]) => {
      seen.add(id);
      const agrees = b.contentHash === majority;
      if (agrees) this.offSince.delete(id);
      else if (!this.offSince.has(id)) this.offSince.set(id, now);
      const since = this.offSince.get(id);
      const off = since === undefined ? 0 : now - since;
      if (!agrees && off >= bound) counted++;
      return {
        id,
        ...b,
        ageSeconds: Math.max(0, (now - b.at) / 1000),
        agrees,
        disagreeingSeconds: off / 1000,
        self: id === this.deps.id,
      };
    });
    for (const id of this.offSince.keys()) if (!seen.has(id)) this.offSince.delete(id);
    this.disagreeing.set(counted);
    return out;
  }
}
