// The messages between the main process and its DNS workers (node:cluster IPC with the
// `advanced` serialization, so Buffers cross as bytes rather than JSON arrays).
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { deserialize, serialize } from 'node:v8';
import type { Config } from '../config/schema.js';
import type { BuildRecipe } from '../snapshot/from-store.js';
import { nextTurn } from '../lib/cooperative.js';

/**
 * A recipe as v8-serialized pieces: everything but the domains, then the domains a chunk
 * at a time, so neither side blocks its event loop for the whole store at once (100,000
 * domains are ~20 MB and take most of a second to decode in one piece).
 */
export interface EncodedRecipe {
  head: Uint8Array;
  domains: Uint8Array[];
}

/** Domains per serialized piece: a few milliseconds to encode or decode. */
const RECIPE_CHUNK = 2000;

export async function encodeRecipe(recipe: BuildRecipe): Promise<EncodedRecipe> {
  const { domains, ...rest } = recipe.state;
  const head = serialize({ ...recipe, state: { ...rest, domains: [] } });
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < domains.length; i += RECIPE_CHUNK) {
    chunks.push(serialize(domains.slice(i, i + RECIPE_CHUNK)));
    await nextTurn();
  }
  return { head, domains: chunks };
}

export async function decodeRecipe(encoded: EncodedRecipe): Promise<BuildRecipe> {
  const recipe = deserialize(asBuffer(encoded.head)) as BuildRecipe;
  const domains: BuildRecipe['state']['domains'] = [];
  for (const chunk of encoded.domains) {
    for (const d of deserialize(asBuffer(chunk)) as BuildRecipe['state']['domains'])
      domains.push(d);
    await nextTurn();
  }
  return { ...recipe, state: { ...recipe.state, domains } };
}

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
