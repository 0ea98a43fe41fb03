// The messages between the main process and its DNS workers (node:cluster IPC with the
// `advanced` serialization, so Buffers cross as bytes rather than JSON arrays).
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Config } from '../config/schema.js';

export type ToWorker =
  | { t: 'init'; index: number; config: Config }
  /** v8.serialize of the snapshot's BuildRecipe: encoded once, sent to every worker. */
  | { t: 'snapshot'; generation: number; recipe: Uint8Array }
  | { t: 'replies'; id: number; messages: Uint8Array[] }
  | { t: 'metrics'; id: number }
  | { t: 'stop' };

export type FromWorker =
  /** The worker's module is loaded and listens for init. */
  | { t: 'hello' }
  | { t: 'listening'; ports: number[] }
  | { t: 'published'; generation: number }
  | { t: 'build-failed'; generation: number; error: string }
  | { t: 'forward'; id: number; msg: Uint8Array; address: string; port: number }
  | { t: 'metrics'; id: number; metrics: Array<MetricObjectWithValues<MetricValue<string>>> };

/** Bytes that crossed IPC as a Uint8Array, viewed as a Buffer without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
