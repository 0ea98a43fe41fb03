// One request in, at most one response out: decode → pipeline → encode. Never throws:
// malformed input gets FORMERR (or is dropped when it is not a query at all), and an
// internal error gets SERVFAIL for that query alone. Synchronous: no I/O per query.
import { MAX_MESSAGE, MAX_UDP_NO_EDNS, Rcode } from './constants.js';
import { decodeQuery, type Transport } from './query.js';
import { encodeError, encodeResponse } from './response.js';
import type { DnsMetrics } from './metrics.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Logger } from '../lib/logger.js';
import { STAGES } from '../pipeline/order.js';
import { runStages, toResponse } from '../pipeline/runner.js';
import { QueryContext, type PipelineSettings } from '../pipeline/context.js';
import { needsExchange, type ExchangeHandler, type Replies } from './exchange.js';
import {
  signReply,
  tsigErrorReply,
  verifyRequest,
  type TsigKey,
  type TsigKeyring,
} from '../xfr/tsig.js';

export interface HandlerDeps {
  snapshot: () => Snapshot;
  settings: PipelineSettings;
  udpSize: number;
  nsid: Buffer | undefined;
  metrics: DnsMetrics;
  logger: Logger;
  /** Transfers, UPDATE, signed requests: tried in order before the query pipeline. */
  exchanges?: readonly ExchangeHandler[];
  /**
   * Keys for signed ordinary queries (RFC 8945 §5.3: a signed request gets a signed reply),
   * e.g. the SOA lookup nsupdate and certbot make before an UPDATE. Absent: served unsigned.
   */
  keyring?: () => TsigKeyring;
}

/** Room kept for the TSIG record a signed reply gains after encoding. */
const TSIG_ROOM = 160;

/** A reply now (the hot path), nothing, or replies later from an exchange handler. */
export type Reply = Buffer | undefined | Replies;

export type Handler = (msg: Buffer, transport: Transport, address: string, port: number) => Reply;

export function createHandler(deps: HandlerDeps): Handler {
  const { metrics } = deps;
  return (msg, transport, address, port) => {
    const decoded = decodeQuery(msg, transport, address, port);
    if (!decoded.ok) {
      if (!decoded.respond) {
        metrics.dropped.inc({ transport });
        return undefined;
      }
      metrics.countQuery(transport, -1, Rcode.FORMERR);
      return encodeError(
        decoded.id,
        decoded.opcode,
        decoded.flags,
        Rcode.FORMERR,
        decoded.question,
      );
    }
    const query = decoded.query;
    if (deps.exchanges && needsExchange(query)) {
      for (const exchange of deps.exchanges) {
        const replies = exchange(query, msg);
        if (replies) return replies;
      }
    }
    let signing: { key: TsigKey; mac: Buffer } | undefined;
    if (query.tsigOffset !== undefined && deps.keyring) {
      const v = verifyRequest(msg, query.tsigOffset, deps.keyring());
      if (!v.ok) {
        metrics.countQuery(transport, query.qtype, Rcode.NOTAUTH);
        return tsigErrorReply(msg, query, v);
      }
      signing = { key: v.key, mac: v.mac };
    }
    let response;
    let scope = 0;
    try {
      const ctx = new QueryContext(query, deps.snapshot(), deps.settings);
      response = toResponse(runStages(STAGES, ctx));
      scope = ctx.ecsScope;
    } catch (err) {
      metrics.errors.inc();
      deps.logger.error({ err, qname: query.qname, qtype: query.qtype }, 'query failed');
      response = toResponse({ kind: 'servfail' });
    }
    const maxSize =
      (transport === 'tcp'
        ? MAX_MESSAGE
        : query.edns
          ? Math.min(query.edns.udpSize, deps.udpSize)
          : MAX_UDP_NO_EDNS) - (signing ? TSIG_ROOM : 0);
    // RFC 7871 §7.2.1: echo ECS with the scope the answer needs; §7.1.2: 0 for a /0 source.
    const ecs = query.edns?.clientSubnet;
    const ecsScope =
      ecs && response.rcode !== Rcode.FORMERR
        ? ecs.sourcePrefix === 0
          ? 0
          : (response.ecsScope ?? scope)
        : undefined;
    const wire = encodeResponse(
      query,
      ecsScope === undefined ? response : { ...response, ecsScope },
      {
        maxSize,
        ourUdpSize: deps.udpSize,
        nsid: deps.nsid,
      },
    );
    if (wire[2] !== undefined && (wire[2] & 0x02) !== 0) metrics.truncated.inc();
    metrics.countQuery(transport, query.qtype, response.rcode);
    return signing ? signReply(wire, { key: signing.key, requestMac: signing.mac }) : wire;
  };
}
