// Requests that are not answered from the snapshot alone: zone transfers, dynamic
// updates and signed messages. They may await I/O (the store, a journal) and may answer
// with several messages (a transfer), so they leave the synchronous hot path here and
// each listener writes what they return, in order.
import type { Query } from '../wire/decode.js';
import type { TsigKey } from '../wire/tsig.js';

/**
 * The verified signature of a signed request (RFC 8945): the handler checks it once,
 * answers a bad one itself, and hands the key and request MAC on so replies are signed.
 */
export interface Signer {
  readonly key: TsigKey;
  readonly mac: Buffer;
}

/** Zero or more complete messages to send back, in order; an empty list sends nothing. */
export type Replies = Promise<readonly Buffer[]>;

/**
 * Claims a request by returning its replies, or passes with undefined. Called only for
 * requests that may need one (see `needsExchange`); must not throw synchronously.
 */
export type ExchangeHandler = (
  query: Query,
  msg: Buffer,
  signer: Signer | undefined,
) => Replies | undefined;

/** The cheap test that keeps ordinary queries off the exchange handlers. */
export function needsExchange(query: Query): boolean {
  return (
    query.opcode !== 0 ||
    query.qtype === 251 || // IXFR
    query.qtype === 252 || // AXFR
    query.tsigOffset !== undefined ||
    // `_health` reads the health board, which lives in the main process only.
    query.qname.startsWith('_health.')
  );
}
