// Batched UDP: the same listener contract as udp.ts (one datagram, one handler call, at
// most one reply, to the datagram's source) over the native/udp-batch addon, which reads
// up to BATCH datagrams per recvmmsg(2) and sends a batch's replies with one sendmmsg(2).
// The handler gets what it gets from dgram: its own copy of the datagram (it may keep it;
// the addon's receive area is reused by the next batch), the source address as Node writes
// it, and the source port. Replies queue in the addon's send area during the batch and go
// out when the batch ends; replies settled later (exchanges) go out one by one.
// The addon is optional: `loadUdpBatch()` says why it is unavailable, and the caller keeps
// node:dgram (`resolveUdpPath`).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIPv6 } from 'node:net';
import type { Handler, Reply } from '../pipeline/handler.js';
import type { Replies } from '../pipeline/exchange.js';
import type { Logger } from '../lib/logger.js';

/** Which socket code answers UDP in this process. */
export type UdpPath = 'batched' | 'dgram';
export type UdpBatchSetting = 'auto' | 'on' | 'off';

/** The addon's JavaScript surface (native/udp-batch/udp_batch.c states the contract). */
export interface UdpBatchSocket {
  readonly buffers: [ArrayBuffer, ArrayBuffer, ArrayBuffer, ArrayBuffer];
  port(): number | null;
  flush(count: number): void;
  sendTo(msg: Buffer, port: number, address: string): void;
  close(): void;
  stats(): number[];
}

export interface UdpBatchOptions {
  family: 4 | 6;
  address: string;
  port: number;
  reusePort?: boolean;
  recvBufferSize?: number;
  /** Datagrams per recvmmsg (default 64). */
  batch?: number;
  /** Bytes per received datagram; a longer one is dropped and counted (default 65536). */
  slot?: number;
  /** Bytes of replies queued per batch before an early flush (default 256 KiB). */
  sendSize?: number;
}

interface UdpBatchAddon {
  UdpBatch: new (options: UdpBatchOptions, onBatch: (count: number) => void) => UdpBatchSocket;
  META_INTS: number;
  META_TEXT: number;
  SEND_META_INTS: number;
}

/** The addon's counters, by position in stats(). */
export const STAT = {
  batches: 0,
  datagrams: 1,
  oversized: 2,
  sent: 3,
  sendErrors: 4,
  queued: 5,
  queueDropped: 6,
  recvErrors: 7,
  queuedNow: 8,
} as const;

/** Datagrams one recvmmsg reads unless the listener says otherwise. */
export const DEFAULT_BATCH = 64;

const ADDON = join('native', 'udp-batch', 'build', 'Release', 'udp_batch.node');

let loaded: { addon: UdpBatchAddon } | { error: string } | undefined;

/** The built addon, or why there is none (not built, or it does not load here). */
export function loadUdpBatch(): { addon: UdpBatchAddon } | { error: string } {
  if (loaded) return loaded;
  // The package root is above this module: src/dns under tsx, dist/src/dns when built.
  let dir = dirname(fileURLToPath(import.meta.url));
  let file: string | undefined;
  for (let i = 0; i < 5 && !file; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, ADDON))) file = join(dir, ADDON);
  }
  if (!file) {
    loaded = { error: `${ADDON} is not built (npm ci builds it when a compiler is present)` };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as UdpBatchAddon;
    loaded = { addon };
  } catch (err) {
    loaded = { error: `${file} does not load: ${(err as Error).message}` };
  }
  return loaded;
}

/**
 * The path a process's UDP listeners take. `on` without the addon is an error naming the
 * setting; `auto` takes the addon when it loads; `canBatch: false` (a DNS worker on the
 * cluster's shared socket, which only dgram can receive from) keeps dgram.
 */
export function resolveUdpPath(
  setting: UdpBatchSetting,
  canBatch = true,
): { path: UdpPath; reason: string } {
  if (setting === 'off') return { path: 'dgram', reason: 'dns.udpBatch is off' };
  if (!canBatch) {
    if (setting === 'on')
      throw new Error(
        'dns.udpBatch is on, but DNS workers share the cluster socket here (no reusePort): only node:dgram can use it',
      );
    return { path: 'dgram', reason: 'DNS workers share one socket (no reusePort)' };
  }
  const l = loadUdpBatch();
  if ('error' in l) {
    if (setting === 'on') throw new Error(`dns.udpBatch is on, but ${l.error}`);
    return { path: 'dgram', reason: l.error };
  }
  return { path: 'batched', reason: 'recvmmsg/sendmmsg addon loaded' };
}

/** IPv4 sources as text, by address: real traffic repeats resolvers, so most are hits. */
const V4_NAMES_MAX = 65536;

export class BatchUdpListener {
  private socket: UdpBatchSocket | undefined;
  private readonly v4Names = new Map<number, string>();

  constructor(
    private readonly host: string,
    private readonly handler: Handler,
    private readonly logger: Logger,
    private readonly reusePort = false,
    private readonly options: Pick<UdpBatchOptions, 'batch' | 'slot' | 'sendSize'> = {},
  ) {}

  start(port: number): Promise<number> {
    const l = loadUdpBatch();
    if ('error' in l) return Promise.reject(new Error(l.error));
    const { addon } = l;
    const metaInts = addon.META_INTS;
    const textAt = addon.META_TEXT;
    const sendInts = addon.SEND_META_INTS;
    const slot = this.options.slot ?? 65536;
    // Views of the addon's shared buffers, set once the socket exists.
    const io = {
      recv: Buffer.alloc(0),
      meta: new Int32Array(0),
      metaBytes: Buffer.alloc(0),
      send: Buffer.alloc(0),
      sendMeta: new Int32Array(0),
    };
    let socket: UdpBatchSocket;
    const onBatch = (count: number): void => {
      const { recv, meta, metaBytes, send, sendMeta } = io;
      let queued = 0;
      let used = 0;
      for (let i = 0; i < count; i++) {
        const m = i * metaInts;
        const len = meta[m] as number;
        if (len < 0) continue;
        const sourcePort = meta[m + 1] as number;
        const address = this.sourceName(meta, metaBytes, m, textAt);
        const msg = Buffer.allocUnsafe(len);
        recv.copy(msg, 0, i * slot, i * slot + len);
        let reply: Reply;
        try {
          reply = this.handler(msg, 'udp', address, sourcePort);
        } catch (err) {
          // The handler does not throw by contract; guard the batch anyway.
          this.logger.error({ err }, 'udp handler threw');
          continue;
        }
        if (this.socket !== socket) return; // closed by what the handler did
        if (reply === undefined) continue;
        if (!Buffer.isBuffer(reply)) {
          this.later(socket, reply, sourcePort, address);
          continue;
        }
        if (reply.length > send.length) {
          socket.sendTo(reply, sourcePort, address);
          continue;
        }
        if (used + reply.length > send.length) {
          socket.flush(queued);
          queued = 0;
          used = 0;
        }
        reply.copy(send, used);
        const s = queued * sendInts;
        sendMeta[s] = used;
        sendMeta[s + 1] = reply.length;
        sendMeta[s + 2] = i;
        used += reply.length;
        queued++;
      }
      if (queued > 0) socket.flush(queued);
    };
    try {
      socket = new addon.UdpBatch(
        {
          family: isIPv6(this.host) ? 6 : 4,
          address: this.host,
          port,
          reusePort: this.reusePort,
          recvBufferSize: 4 << 20,
          ...this.options,
        },
        onBatch,
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const [r, m, s, sm] = socket.buffers;
    Object.assign(io, {
      recv: Buffer.from(r),
      meta: new Int32Array(m),
      metaBytes: Buffer.from(m),
      send: Buffer.from(s),
      sendMeta: new Int32Array(sm),
    });
    this.socket = socket;
    return Promise.resolve(socket.port() ?? port);
  }

  private sourceName(meta: Int32Array, bytes: Buffer, m: number, textAt: number): string {
    const start = m * 4 + textAt;
    if (meta[m + 2] !== 4) return bytes.toString('latin1', start, start + (meta[m + 4] as number));
    const key = meta[m + 3] as number;
    let name = this.v4Names.get(key);
    if (name === undefined) {
      name = bytes.toString('latin1', start, start + (meta[m + 4] as number));
      if (this.v4Names.size >= V4_NAMES_MAX) this.v4Names.clear();
      this.v4Names.set(key, name);
    }
    return name;
  }

  private later(socket: UdpBatchSocket, reply: Replies, port: number, address: string): void {
    reply.then(
      (messages) => {
        // A datagram carries one message; exchanges size their UDP answers to fit.
        const first = messages[0];
        if (first && this.socket === socket) socket.sendTo(first, port, address);
      },
      (err: unknown) => this.logger.error({ err }, 'udp exchange failed'),
    );
  }

  /** The addon's counters for this socket (see STAT), or undefined once stopped. */
  stats(): number[] | undefined {
    return this.socket?.stats();
  }

  stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    s?.close();
    return Promise.resolve();
  }
}
