// One request in, at most one response out: decode → pipeline → encode. Never throws:
// malformed input gets FORMERR (or is dropped when it is not a query at all), and an
// internal error gets SERVFAIL for that query alone. Synchronous: no I/O per query.
import { MAX_MESSAGE, MAX_UDP_NO_EDNS, Rcode } from '../wire/constants.js';
import { decodeQuery, type Transport } from '../wire/decode.js';
import { encodeError, encodeResponse } from '../wire/encode.js';
import type { DnsMetrics } from './metrics.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Logger } from '../lib/logger.js';
import { STAGES } from './order.js';
import { runStages, toResponse } from './runner.js';
import { QueryContext, type PipelineSettings } from './context.js';
import { needsExchange, type ExchangeHandler, type Replies, type Signer } from './exchange.js';
import { fastKey, keyBytes, patchReply, sameQuery, type FastKey } from './fast-path.js';
import { answerCacheFor, existingAnswerCache } from '../snapshot/answer-cache.js';
import type { Decision } from '../gslb/decide.js';
import { signReply, tsigErrorReply, verifyRequest, type TsigKeyring } from '../wire/tsig.js';

export interface HandlerDeps {
  snapshot: () => Snapshot;
  settings: PipelineSettings;
  udpSize: number;
  nsid: Buffer | undefined;
  metrics: DnsMetrics;
  logger: Logger;
  /** Transfers, UPDATE, signed requests: tried in order before the query pipeline. */
  exchanges?: readonly ExchangeHandler[];
  /** Answer repeated queries from the snapshot's cache of encoded responses (default on). */
  answerCache?: boolean;
  /**
   * Keys for signed ordinary queries (RFC 8945 §5.3: a signed request gets a signed reply),
   * e.g. the SOA lookup nsupdate and certbot make before an UPDATE. Absent: served unsigned.
   */
  keyring?: () => TsigKeyring;
  /**
   * Set in a DNS worker (dns/workers.ts): transfers, UPDATE and signed requests need the
   * keys, journal and store the main process holds, so they are answered there.
   */
  forward?: Forward;
}

/** Hands a request to the process that can answer it; resolves with its replies. */
export type Forward = (msg: Buffer, transport: Transport, address: string, port: number) => Replies;

/** Debug names answer with the client's port or per-request text: never cached. */
function cacheable(qname: string): boolean {
  return !qname.startsWith('whoami.') && !qname.startsWith('_explain.');
}

/** Room kept for the TSIG record a signed reply gains after encoding. */
const TSIG_ROOM = 160;

/** A reply now (the hot path), nothing, or replies later from an exchange handler. */
export type Reply = Buffer | undefined | Replies;

export type Handler = (msg: Buffer, transport: Transport, address: string, port: number) => Reply;

/** Answers queued before a swap at most: the most recent ones, about 15 µs each. */
export const PREWARM_MAX = 20_000;

export interface QueryHandler extends Handler {
  /**
   * Fills `next`'s answer cache with the answers to the queries most recently answered
   * from `previous`'s (at most PREWARM_MAX), a step at a time, before `next` is published:
   * the swap then does not turn every repeated query into a first answer at once, which
   * on a busy server queues queries behind one another. Nothing is counted in metrics.
   */
  prewarm(next: Snapshot, previous: Snapshot | undefined): Generator<void, number>;
}

export function createHandler(deps: HandlerDeps): QueryHandler {
  const { metrics } = deps;
  const useCache = deps.answerCache !== false;
  // The decisions of the query being answered, kept with its cached answer.
  const decisions: Decision[] = [];
  /** False while prewarming: answers are computed and cached, not counted. */
  let counting = true;
  /** The snapshot being prewarmed, in place of the live one. */
  let target: Snapshot | undefined;
  const settings = {
    ...deps.settings,
    onDecision: (d: Decision) => {
      decisions.push(d);
      if (counting) deps.settings.onDecision(d);
    },
  };
  const key: FastKey = { hash: 0, questionEnd: 0 };
  const handle: Handler = (msg, transport, address, port) => {
    const snapshot = target ?? deps.snapshot();
    const fast = useCache && fastKey(msg, transport, address, key);
    const cache = fast ? answerCacheFor(snapshot, deps.settings.geo.version?.()) : undefined;
    if (cache) {
      const hit = cache.get(key.hash);
      if (hit && sameQuery(hit, msg, transport, address)) {
        if (!counting) return undefined;
        for (const d of hit.decisions) deps.settings.onDecision(d);
        if (hit.truncated) metrics.truncated.inc();
        hit.counter.inc();
        return patchReply(hit, msg, key.questionEnd);
      }
    }
    decisions.length = 0;
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
    if (deps.forward && needsExchange(query)) return deps.forward(msg, transport, address, port);
    // RFC 8945 §5.2: a signed request is verified before anything else looks at it, once,
    // for transfers, UPDATE and ordinary queries alike; a bad signature is answered here.
    let signing: Signer | undefined;
    if (query.tsigOffset !== undefined && deps.keyring) {
      const v = verifyRequest(msg, query.tsigOffset, deps.keyring());
      if (!v.ok) {
        metrics.countQuery(transport, query.qtype, Rcode.NOTAUTH);
        deps.logger.info(
          { client: query.clientAddress, key: v.keyName, error: v.error, opcode: query.opcode },
          'request failed TSIG',
        );
        return tsigErrorReply(msg, query, v);
      }
      signing = { key: v.key, mac: v.mac };
    }
    if (deps.exchanges && needsExchange(query)) {
      for (const exchange of deps.exchanges) {
        const replies = exchange(query, msg, signing);
        if (replies) return replies;
      }
    }
    let response;
    let scope = 0;
    let failed = false;
    try {
      const ctx = new QueryContext(query, snapshot, settings);
      response = toResponse(runStages(STAGES, ctx));
      scope = ctx.ecsScope;
    } catch (err) {
      failed = true;
      if (counting) metrics.errors.inc();
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
    const truncated = wire[2] !== undefined && (wire[2] & 0x02) !== 0;
    const counter = metrics.queryCounter(transport, query.qtype, response.rcode);
    if (counting) {
      if (truncated) metrics.truncated.inc();
      counter.inc();
    }
    if (cache && !failed && !signing && cacheable(query.qname)) {
      cache.set(key.hash, {
        key: keyBytes(msg, key.questionEnd),
        transport,
        address,
        questionEnd: key.questionEnd,
        counter,
        wire,
        truncated,
        decisions: decisions.slice(),
      });
    }
    // Signed requests never take the fast path (fast-path.ts), so no signed reply is cached.
    return signing ? signReply(wire, { key: signing.key, requestMac: signing.mac }) : wire;
  };
  function* prewarm(next: Snapshot, previous: Snapshot | undefined): Generator<void, number> {
    const from = useCache && previous ? existingAnswerCache(previous) : undefined;
    if (!from) return 0;
    const geo = deps.settings.geo.version?.();
    if (from.geoVersion !== geo) return 0;
    const entries = [...from.values()];
    let done = 0;
    for (let i = entries.length - 1; i >= 0 && done < PREWARM_MAX; i--) {
      const e = entries[i] as (typeof entries)[number];
      // The cached key is the query from octet 2 on, its name case-folded: a query again.
      const msg = Buffer.allocUnsafe(e.key.length + 2);
      msg[0] = 0;
      msg[1] = 0;
      e.key.copy(msg, 2);
      target = next;
      counting = false;
      try {
        handle(msg, e.transport as Transport, e.address, 0);
      } finally {
        target = undefined;
        counting = true;
      }
      if (++done % 64 === 0) yield;
    }
    return done;
  }
  return Object.assign(handle, { prewarm });
}
