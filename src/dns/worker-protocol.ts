// The messages between the main process and its DNS workers (node:cluster IPC with the
// `advanced` serialization, so Buffers cross as bytes rather than JSON arrays).
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { EncodedRecipe } from '../snapshot/recipe-codec.js';
import type { HealthTtlSettings } from '../gslb/health-bound.js';
import type { UdpPath } from './udp-batch.js';

export type ToWorker =
  /**
   * `reusePort`: bind the worker's own UDP sockets with SO_REUSEPORT, on `ports` (one per
   * `dns.listen` entry; null: the configured ones). Otherwise share the cluster's socket.
   */
  | {
      t: 'init';
      index: number;
      config: Config;
      udp: { reusePort: boolean; ports: number[] | null };
    }
  /** The snapshot's BuildRecipe (see encodeRecipe): encoded once, sent to every worker. */
  | { t: 'snapshot'; generation: number; recipe: EncodedRecipe }
  | { t: 'replies'; id: number; messages: Uint8Array[] }
  /** The DNS cookie secrets the main process uses, sent at start and on every change. */
  | { t: 'cookies'; current: Uint8Array; previous: Uint8Array | undefined }
  /** The health checker's node bounds (gslb/health-bound.ts), sent at start and on every change. */
  | {
      t: 'health';
      settings: HealthTtlSettings;
      /** id, at, unknown, up (null: no verdict). */
      nodes: Array<[string, number, boolean, boolean | null]>;
    }
  | { t: 'metrics'; id: number }
  | { t: 'stop' };

export type FromWorker =
  /** The worker's module is loaded and listens for init. */
  | { t: 'hello' }
  | { t: 'listening'; ports: number[]; udpPath: UdpPath }
  | { t: 'published'; generation: number }
  | { t: 'build-failed'; generation: number; error: string }
  | { t: 'forward'; id: number; msg: Uint8Array; address: string; port: number }
  | { t: 'metrics'; id: number; metrics: Array<MetricObjectWithValues<MetricValue<string>>> };

/**
 * Requests awaiting their answer over IPC, by id: each resolves with the answer, or with
 * `fallback` after `timeoutMs` (the other side died or is stuck; nobody waits forever).
 */
export class PendingReplies<T> {
  private nextId = 0;
  private readonly waiting = new Map<number, (value: T) => void>();

  constructor(
    private readonly timeoutMs: number,
    private readonly fallback: T,
  ) {}

  /** Opens a request; `send` carries its id to the other side. */
  open(send: (id: number) => void): Promise<T> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      const done = (value: T) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(value);
      };
      const timer = setTimeout(() => done(this.fallback), this.timeoutMs);
      this.waiting.set(id, done);
      send(id);
    });
  }

  /** Settles request `id` (an answer that came after its timeout is ignored). */
  settle(id: number, value: T): void {
    this.waiting.get(id)?.(value);
  }
}
