// The contract between the transports (dns/udp.ts, dns/tcp.ts, DNS workers) and the query
// path (order.ts): one request in, at most one response out. A handler never throws and
// never awaits I/O for an ordinary query; exchanges answer later, through `Replies`.
import type { Transport } from '../wire/decode.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Replies } from './exchange.js';

/** A reply now (the hot path), nothing, or replies later from an exchange handler. */
export type Reply = Buffer | undefined | Replies;

export type Handler = (msg: Buffer, transport: Transport, address: string, port: number) => Reply;

/** Hands a request to the process that can answer it; resolves with its replies. */
export type Forward = (msg: Buffer, transport: Transport, address: string, port: number) => Replies;

export interface QueryHandler extends Handler {
  /**
   * Fills `next`'s answer cache with the answers to the queries most recently answered
   * from `previous`'s (at most PREWARM_MAX), a step at a time, before `next` is published:
   * the swap then does not turn every repeated query into a first answer at once, which
   * on a busy server queues queries behind one another. Nothing is counted in metrics.
   */
  prewarm(next: Snapshot, previous: Snapshot | undefined): Generator<void, number>;
}
