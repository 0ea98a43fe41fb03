// The whole path of one query, in the order it runs (Knot's process_query, CoreDNS's
// plugin.cfg). Three phases; each step's position has a reason, and a step that settles
// the query ends the phase it is in.
//
// begin — before the question is looked at:
//   0. shedding      UDP only: a query older than a resolver waits (event-loop lag, see
//                    lib/load-shed.ts) is dropped unread and counted, so those behind it are
//                    answered in time. First, because everything after it costs CPU.
//   1. answer cache  A plain query repeating one already answered gets that answer's bytes
//                    with its own ID and question case (fast-path.ts); on a miss, one with
//                    the same question, EDNS shape and location facts as one answered gets
//                    its bytes with its own ID, question case and ECS address (the decision
//                    cache, decision-key.ts). First, because a hit skips every later step
//                    but the count. The COOKIE option is not part of either key: a hit's
//                    cookie is checked as in step 6 (a verdict that is not `answer` makes
//                    it a miss) and the reply's cookie written per query.
//   2. decode        Once, into a Query (wire/decode.ts). Malformed input gets FORMERR, an
//                    unknown opcode without a question NOTIMP, and what is not a query at
//                    all nothing.
//   3. forward       In a DNS worker, requests that need the main process's keys, journal,
//                    store or health board go there (exchange.ts, needsExchange).
//   4. TSIG verify   RFC 8945 §5.2: a signed request is verified before anything reads it;
//                    a bad signature is answered here, for queries and exchanges alike.
//   5. exchanges     AXFR/IXFR, UPDATE, NOTIFY may await I/O, so they leave the synchronous
//                    path here with their replies (exchange.ts).
//   6. cookies       RFC 7873 §5.2 (wire/cookie.ts): the verdict on the request's COOKIE
//                    option and the reply's cookie. After the exchanges, which answer
//                    without one, and before the stages, since BADCOOKIE settles the query
//                    without a lookup. A malformed option is FORMERR at decode.
//                    Response rate limiting goes at the end: it needs the outcome.
// answer — the stages, one file each, in STAGES order:
//   1. guard         Malformed-by-policy queries (EDNS version, opcode, class, meta types)
//                    are settled before any lookup, so later stages see only real questions.
//   2. chaos         CHAOS debug names live outside every zone; answered before the
//                    authority check would refuse them.
//   3. authority     REFUSED outside our zones; fixes the zone for the stages below.
//   4. debug         whoami / _explain TXT: inside the zone (so after authority) and before
//                    gslb, because _explain.<base name> sits under a base name. Marks its
//                    answers uncacheable: they name the client.
//   5. gslb          Base names are the hot path: answered from the domain plan directly.
//   6. static        Everything else in the zone, including CNAME chains into base names; it
//                    always settles the query (answer, referral, NXDOMAIN or NODATA).
// end — from outcome to bytes:
//   1. ECS scope     RFC 7871 §7.2.1: the widest scope the decisions need; §7.1.2: 0 for a
//                    /0 source. Extended DNS Errors go before encode.
//   1b. DNSSEC       A DO query in a signed zone: RRSIGs from the signature cache and
//                    compact denial (dnssec.ts); inside the stages' try, so a failure to
//                    sign is SERVFAIL for this query only. Signed answers are cached like
//                    others: the DO bit is part of the cache key.
//   2. size          TCP 65535; UDP the client's EDNS size capped by ours, 512 without EDNS;
//                    less the room a TSIG record takes.
//   3. encode        Header, question, sections, OPT with ECS, NSID and the cookie last, TC
//                    when the answer does not fit (wire/encode.ts).
//   4. cache fill    What no stage marked uncacheable, unsigned and not failed, keyed as the
//                    answer cache looks it up; into the decision cache too when every
//                    location its decisions read is uniform over its bucket and the picks
//                    are not spread by the client's own address (decision-key.ts).
//   5. TSIG sign     RFC 8945 §5.3; after the cache fill, since signed replies are never cached.
//   6. rate limit    UDP replies, cached or computed, from a client without a valid server
//                    cookie and outside the allow-list spend a token of their (prefix,
//                    class, name) bucket (lib/rrl.ts); a limited one is dropped, or every
//                    `slip`-th sent as header and question with TC=1. Last, because the
//                    class needs the outcome and only what is sent can amplify.
//   7. count         Metrics once, on the outcome, by count(): a cache hit counts exactly what
//                    the answer it reuses counted; a limited reply counts as slipped or
//                    dropped instead. The prewarm answers without this step.
import { MAX_MESSAGE, MAX_UDP_NO_EDNS, Rcode } from '../wire/constants.js';
import { decodeQuery, type Query, type Transport } from '../wire/decode.js';
import { encodeError, encodeResponse, type Response } from '../wire/encode.js';
import { signReply, tsigErrorReply, verifyRequest, type TsigKeyring } from '../wire/tsig.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import {
  answerCacheFor,
  existingAnswerCache,
  type CachedAnswer,
} from '../snapshot/answer-cache.js';
import type { Decision } from '../gslb/decide.js';
import { decisionCacheFor, type DecisionAnswer } from '../snapshot/decision-cache.js';
import { locationMemoFor } from '../gslb/location-memo.js';
import {
  decisionBasis,
  decisionKey,
  decisionProbe,
  ecsAddressOffset,
  foldedQuestion,
  lookupDecision,
  newProbe,
  patchDecisionReply,
} from './decision-key.js';
import type { Logger } from '../lib/logger.js';
import { Doorkeeper } from '../lib/doorkeeper.js';
import type { Stage } from './context.js';
import { QueryContext, type PipelineSettings } from './context.js';
import { runStages, toResponse } from './runner.js';
import { signResponse } from './dnssec.js';
import { needsExchange, type ExchangeHandler, type Signer } from './exchange.js';
import {
  answerTtlOffsets,
  countDownTtls,
  fastKey,
  keyBytes,
  patchReply,
  sameQuery,
  type FastKey,
} from './fast-path.js';
import type { DnsMetrics } from './metrics.js';
import type { Forward, QueryHandler, Reply } from './handler.js';
import { guard } from './guard.js';
import { chaos } from './chaos.js';
import { authority } from './authority.js';
import { debugNames } from './debug.js';
import { gslb } from './gslb.js';
import { staticRecords } from './static.js';
import {
  checkCookie,
  cookieAction,
  RESPONSE_COOKIE_OPTION_BYTES,
  responseCookie,
  writeResponseCookie,
  type CookieSecrets,
} from '../wire/cookie.js';
import { clientAddressBytes } from '../lib/client-address.js';
import type { LoadShedder } from '../lib/load-shed.js';
import {
  LogGate,
  RRL_CLASS_NAMES,
  rrlClassOf,
  rrlNameHash,
  type ResponseRateLimiter,
} from '../lib/rrl.js';

export const STAGES: readonly Stage[] = [guard, chaos, authority, debugNames, gslb, staticRecords];

export interface HandlerDeps {
  snapshot: () => Snapshot;
  settings: PipelineSettings;
  udpSize: number;
  nsid: Buffer | undefined;
  metrics: DnsMetrics;
  logger: Logger;
  /** Transfers, UPDATE, signed requests: tried in order before the stages. */
  exchanges?: readonly ExchangeHandler[];
  /** Answer repeated queries from the snapshot's cache of encoded responses (default on). */
  answerCache?: boolean;
  /**
   * Keys for signed ordinary queries (RFC 8945 §5.3: a signed request gets a signed reply),
   * e.g. the SOA lookup nsupdate and certbot make before an UPDATE. Absent: served unsigned.
   */
  keyring?: () => TsigKeyring;
  /** Set in a DNS worker: requests that need the main process are answered there. */
  forward?: Forward;
  /** DNS cookies (RFC 7873); absent, a COOKIE option is ignored. */
  cookies?: CookieSettings;
  /** Response rate limiting for UDP; absent, every reply is sent. */
  rrl?: RrlSettings;
  /** Load shedding for UDP (its lifecycle is the caller's); absent, every query is read. */
  shedder?: LoadShedder;
}

export interface RrlSettings {
  readonly limiter: ResponseRateLimiter;
  /** Clients never limited (dns.rrl.allow); absent when the list is empty. */
  readonly allowed?: ((address: string) => boolean) | undefined;
}

export interface CookieSettings {
  /** The shared secrets; undefined until known (requests are answered without a cookie). */
  readonly secrets: () => CookieSecrets | undefined;
  /** BADCOOKIE to UDP requests without a valid server cookie (RFC 7873 §5.2.3 option 2). */
  readonly demand: boolean;
}

/** Answers queued before a swap at most: the hottest ones, about 15 µs each. */
export const PREWARM_MAX = 20_000;

/** Room kept for the TSIG record a signed reply gains after encoding. */
const TSIG_ROOM = 160;

/** What one answer counts in metrics; a cached answer keeps it, so a hit counts the same. */
interface Counted {
  readonly counter: { inc(): void };
  readonly truncated: boolean;
  /** The GSLB decisions behind the answer. */
  readonly decisions: readonly Decision[];
  /** A stage threw: the answer is SERVFAIL. */
  readonly failed?: boolean;
}

const NO_DECISIONS: readonly Decision[] = [];
const NO_OFFSETS: readonly number[] = [];

const NO_RECORDS: Response['answer'] = [];
const BADCOOKIE_RESPONSE: Response = {
  rcode: Rcode.BADCOOKIE,
  authoritative: false,
  answer: NO_RECORDS,
  authority: NO_RECORDS,
  additional: NO_RECORDS,
};

// The client address as octets for the cookie hash; one scratch buffer, used synchronously.
const addressScratch = Buffer.alloc(16);

/** `address` as 4 or 16 octets (a view of the scratch buffer), or undefined if not an IP. */
function addressOctets(address: string): Buffer | undefined {
  const n = clientAddressBytes(address, addressScratch);
  return n === 0 ? undefined : addressScratch.subarray(0, n);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

// Where the question of the reply last read by questionName ends.
let questionEnd = 0;

/**
 * FNV-1a of the question name in `wire` (ASCII case folded; the question is never
 * compressed), and sets `questionEnd`; undefined when the name runs past the message.
 */
function questionName(wire: Buffer): number | undefined {
  let h = 0x811c9dc5;
  let pos = 12;
  for (;;) {
    const len = wire[pos];
    if (len === undefined || len > 63) return undefined;
    h = Math.imul(h ^ len, 0x01000193);
    if (len === 0) break;
    const end = pos + 1 + len;
    if (end > wire.length) return undefined;
    for (let i = pos + 1; i < end; i++) {
      const c = wire[i] as number;
      h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), 0x01000193);
    }
    pos = end;
  }
  questionEnd = pos + 5;
  return questionEnd <= wire.length ? h >>> 0 : undefined;
}

/** A slip: the reply's header and question with TC=1 and no records, OPT or EDE. */
function slipReply(wire: Buffer, end: number): Buffer {
  const out = Buffer.from(wire.subarray(0, end));
  out[2] = (out[2] as number) | 0x02;
  out.fill(0, 6, 12);
  return out;
}

/** End step 2: the largest reply the client takes. */
function sizeLimit(
  query: Query,
  transport: Transport,
  ourUdpSize: number,
  signed: boolean,
): number {
  const room =
    transport === 'tcp'
      ? MAX_MESSAGE
      : query.edns
        ? Math.min(query.edns.udpSize, ourUdpSize)
        : MAX_UDP_NO_EDNS;
  return room - (signed ? TSIG_ROOM : 0);
}

/** End step 1: the ECS scope to echo, or undefined when the query carried no ECS. */
function ecsScopeOf(query: Query, response: Response, decided: number): number | undefined {
  const ecs = query.edns?.clientSubnet;
  if (!ecs || response.rcode === Rcode.FORMERR) return undefined;
  return ecs.sourcePrefix === 0 ? 0 : (response.ecsScope ?? decided);
}

export function createHandler(deps: HandlerDeps): QueryHandler {
  const { metrics } = deps;
  const useCache = deps.answerCache !== false;
  // The exact cache keeps an answer from the second time its key (client and question) is
  // seen: real resolvers repeat a question about once per TTL, so on real traffic nearly
  // every answer kept at first sight was never asked for again (0.05 % hits) and cost its
  // copy, its entry and the collections of both. The prewarm's answers are let in: they
  // were the previous snapshot's hottest.
  const doorkeeper = new Doorkeeper();
  let prewarming = false;
  const keepExact = (hash: number) => prewarming || doorkeeper.seenBefore(hash);
  const key: FastKey = { hash: 0, questionEnd: 0, cookieStart: 0, cookieEnd: 0 };
  const probe = newProbe();
  const cookieSecrets = deps.cookies?.secrets;
  const demandCookie = deps.cookies?.demand ?? false;
  // The query being answered came with a valid server cookie (RFC 7873 §5.2.5).
  let cookieValid = false;
  const rrl = deps.rrl?.limiter.enabled ? deps.rrl : undefined;
  const rrlLog = new LogGate(1);
  let zoneName = '';
  let zoneHash = 0;
  // The decisions of the query being answered: counted at the end, kept with its cache entry.
  const decisions: Decision[] = [];
  const settings: PipelineSettings = {
    ...deps.settings,
    memoLocations: useCache && deps.settings.memoLocations !== false,
    onDecision: (d) => void decisions.push(d),
  };
  // What the query being answered counts, set by answer() for the caller to count or not.
  let counted: Counted | undefined;

  /** End step 6, the same for cache hits and computed answers. */
  function count(c: Counted): void {
    for (const d of c.decisions) deps.settings.onDecision(d);
    if (c.failed) metrics.errors.inc();
    if (c.truncated) metrics.truncated.inc();
    c.counter.inc();
  }

  /**
   * Begin 1 for a hit: this query's reply from `hit`, or undefined when the slow path must
   * answer it (its cookie gets something other than the answer, or the cached wire has no
   * cookie where this reply needs one).
   */
  function replyFromCache(
    hit: CachedAnswer | DecisionAnswer,
    msg: Buffer,
    transport: Transport,
    address: string,
    at: FastKey | typeof probe,
  ) {
    // Past its health bound the answer may no longer be what a decision gives: answer afresh.
    const nowMs = hit.validUntil === Infinity ? 0 : Date.now();
    if (nowMs >= hit.validUntil) return undefined;
    const secrets = cookieSecrets?.();
    const hasOption = at.cookieEnd > 0;
    if (!hit.cookie) {
      if (hasOption && secrets) return undefined;
      const reply = patched(hit, msg, at);
      countDownTtls(hit, reply, nowMs);
      return reply;
    }
    const octets = secrets && addressOctets(address);
    if (!octets || !secrets) return undefined;
    const now = nowSeconds();
    const check = checkCookie(msg.subarray(at.cookieStart + 4, at.cookieEnd), octets, secrets, now);
    const action = cookieAction(check.verdict, {
      tcp: transport === 'tcp',
      noQuestion: false,
      demandCookie,
    });
    if (action !== 'answer') return undefined;
    cookieValid = check.verdict === 'valid';
    const reply = patched(hit, msg, at);
    countDownTtls(hit, reply, nowMs);
    writeResponseCookie(
      check,
      octets,
      secrets,
      now,
      reply,
      reply.length - RESPONSE_COOKIE_OPTION_BYTES,
    );
    return reply;
  }

  /** A hit's reply before its TTLs and cookie: ID, question case, and ECS address for a decision hit. */
  function patched(hit: CachedAnswer | DecisionAnswer, msg: Buffer, at: FastKey | typeof probe) {
    return 'ecsAt' in hit
      ? patchDecisionReply(hit, msg, probe)
      : patchReply(hit, msg, at.questionEnd);
  }

  /** The exact cache's entry holding `answer` for this query (the fast key just computed). */
  function exactEntry(
    answer: Omit<CachedAnswer, 'key' | 'transport' | 'address' | keyof FastKey>,
    msg: Buffer,
    transport: Transport,
    address: string,
  ): CachedAnswer {
    return {
      ...answer,
      key: keyBytes(msg, key.questionEnd),
      transport,
      address,
      questionEnd: key.questionEnd,
      cookieStart: key.cookieStart,
      cookieEnd: key.cookieEnd,
    };
  }

  /**
   * The exact cache's entry from a decision hit: the decision entry's answer with this
   * query's ID, question case and ECS address, before TTLs count down and a cookie is
   * written (each reply from it does both). Only the answer's own fields are taken: a
   * decision entry's others (its `ecsAt`) would make a hit of it patch as a decision hit.
   */
  function exactFromDecision(
    hit: DecisionAnswer,
    msg: Buffer,
    transport: Transport,
    address: string,
  ): CachedAnswer {
    const { cookie, counter, truncated, decisions, validUntil, ttlOffsets, ttlFloor } = hit;
    const wire = patchDecisionReply(hit, msg, probe);
    const answer = {
      cookie,
      counter,
      wire,
      truncated,
      decisions,
      validUntil,
      ttlOffsets,
      ttlFloor,
    };
    return exactEntry(answer, msg, transport, address);
  }

  /** Every step but the count, against `snapshot`. */
  function answer(
    msg: Buffer,
    transport: Transport,
    address: string,
    port: number,
    snapshot: Snapshot,
  ): Reply {
    // begin 1: the answer cache.
    const fast = useCache && fastKey(msg, transport, address, key);
    const geoVersion = useCache ? deps.settings.geo.version?.() : undefined;
    const cache = fast ? answerCacheFor(snapshot, geoVersion) : undefined;
    if (cache) {
      const hit = cache.get(key.hash);
      if (hit && sameQuery(hit, msg, transport, address, key)) {
        const reply = replyFromCache(hit, msg, transport, address, key);
        if (reply) {
          metrics.exactHit.inc();
          counted = hit;
          return reply;
        }
      }
      metrics.exactMiss.inc();
    }
    const probed = useCache && decisionProbe(msg, transport, deps.udpSize, probe);
    const dcache = probed ? decisionCacheFor(snapshot, geoVersion) : undefined;
    const memo = dcache ? locationMemoFor(snapshot.gslb.nets, deps.settings.geo) : undefined;
    if (dcache && memo) {
      const hit = lookupDecision(dcache, memo, msg, address, probe);
      const reply = hit && replyFromCache(hit, msg, transport, address, probe);
      if (hit && reply) {
        metrics.decisionHit.inc();
        counted = hit;
        // A key seen again: the exact cache takes this answer, as the slow path would.
        if (cache && keepExact(key.hash))
          cache.set(key.hash, exactFromDecision(hit, msg, transport, address));
        return reply;
      }
      metrics.decisionMiss.inc();
    }
    // begin 2: decode.
    const decoded = decodeQuery(msg, transport, address, port);
    if (!decoded.ok) {
      if (!decoded.respond) {
        counted = {
          counter: metrics.dropped.labels({ transport }),
          truncated: false,
          decisions: NO_DECISIONS,
        };
        return undefined;
      }
      counted = {
        counter: metrics.queryCounter(transport, -1, decoded.rcode),
        truncated: false,
        decisions: NO_DECISIONS,
      };
      return encodeError(
        decoded.id,
        decoded.opcode,
        decoded.flags,
        decoded.rcode,
        decoded.question,
      );
    }
    const query = decoded.query;
    // begin 3: forward from a DNS worker.
    if (deps.forward && needsExchange(query)) return deps.forward(msg, transport, address, port);
    // begin 4: TSIG verification.
    let signing: Signer | undefined;
    if (query.tsigOffset !== undefined && deps.keyring) {
      const v = verifyRequest(msg, query.tsigOffset, deps.keyring());
      if (!v.ok) {
        counted = {
          counter: metrics.queryCounter(transport, query.qtype, Rcode.NOTAUTH),
          truncated: false,
          decisions: NO_DECISIONS,
        };
        deps.logger.info(
          { client: query.clientAddress, key: v.keyName, error: v.error, opcode: query.opcode },
          'request failed TSIG',
        );
        return tsigErrorReply(msg, query, v);
      }
      signing = { key: v.key, mac: v.mac };
    }
    // begin 5: exchanges.
    if (deps.exchanges && needsExchange(query)) {
      for (const exchange of deps.exchanges) {
        const replies = exchange(query, msg, signing);
        if (replies) return replies;
      }
    }
    // begin 6: cookies.
    let cookie: Buffer | undefined;
    const secrets = cookieSecrets?.();
    const option = query.edns?.cookie;
    const octets = secrets && option ? addressOctets(query.clientAddress) : undefined;
    if (secrets && option && octets) {
      const now = nowSeconds();
      const check = checkCookie(option, octets, secrets, now);
      cookie = responseCookie(check, octets, secrets, now);
      cookieValid = check.verdict === 'valid';
      const action = cookieAction(check.verdict, {
        tcp: transport === 'tcp',
        noQuestion: false,
        demandCookie,
      });
      if (action === 'badcookie') {
        counted = {
          counter: metrics.queryCounter(transport, query.qtype, Rcode.BADCOOKIE),
          truncated: false,
          decisions: NO_DECISIONS,
        };
        const wire = encodeResponse(query, BADCOOKIE_RESPONSE, {
          maxSize: sizeLimit(query, transport, deps.udpSize, signing !== undefined),
          ourUdpSize: deps.udpSize,
          nsid: deps.nsid,
          cookie,
        });
        return signing ? signReply(wire, { key: signing.key, requestMac: signing.mac }) : wire;
      }
    }
    // answer: the stages.
    decisions.length = 0;
    let response: Response;
    let scope = 0;
    let cacheable = true;
    let failed = false;
    let ctx: QueryContext | undefined;
    try {
      ctx = new QueryContext(query, snapshot, settings);
      const outcome = runStages(STAGES, ctx);
      response = toResponse(outcome);
      // end 1b: DNSSEC, for a DO query in a signed zone.
      const signer = snapshot.signer;
      if (signer && query.edns?.dnssecOk)
        response = signResponse(
          outcome,
          response,
          query.qname,
          query.qtype,
          snapshot,
          signer,
          nowSeconds(),
        );
      scope = ctx.ecsScope;
      cacheable = ctx.cacheable;
    } catch (err) {
      failed = true;
      deps.logger.error({ err, qname: query.qname, qtype: query.qtype }, 'query failed');
      response = toResponse({ kind: 'servfail' });
    }
    // end 1–3: ECS scope, size, encode.
    const ecsScope = ecsScopeOf(query, response, scope);
    const wire = encodeResponse(
      query,
      ecsScope === undefined ? response : { ...response, ecsScope },
      {
        maxSize: sizeLimit(query, transport, deps.udpSize, signing !== undefined),
        ourUdpSize: deps.udpSize,
        nsid: deps.nsid,
        cookie,
      },
    );
    const truncated = wire[2] !== undefined && (wire[2] & 0x02) !== 0;
    const counter = metrics.queryCounter(transport, query.qtype, response.rcode);
    // end 4: cache fill.
    if ((cache || dcache) && cacheable && !failed && !signing) {
      let validUntil = Infinity;
      for (const d of decisions) if (d.validUntil < validUntil) validUntil = d.validUntil;
      const answer = {
        cookie: cookie !== undefined,
        counter,
        wire,
        truncated,
        decisions: decisions.slice(),
        validUntil,
        ttlOffsets: validUntil === Infinity ? NO_OFFSETS : answerTtlOffsets(wire),
        ttlFloor: deps.settings.health?.()?.settings.floorSec ?? 0,
      };
      if (cache && keepExact(key.hash))
        cache.set(key.hash, exactEntry(answer, msg, transport, address));
      const at =
        dcache && memo && ctx && decisionBasis(memo, decisions, ctx.withEcs, ctx.withoutEcs);
      const ecsAt = probe.ecsFamily === 0 ? 0 : ecsAddressOffset(wire);
      if (dcache && at && (probe.ecsFamily === 0 || ecsAt !== 0))
        dcache.set(decisionKey(probe, at.basis, at.classId), {
          ...answer,
          question: foldedQuestion(msg, probe),
          flags: probe.flags,
          shape: probe.shape,
          sizeLimit: probe.sizeLimit,
          basis: at.basis,
          classId: at.classId,
          ecsAt,
        });
      counted = answer;
    } else {
      counted = { counter, truncated, decisions, failed };
    }
    // end 5: TSIG signing (signed requests never take the fast path, so none is cached).
    return signing ? signReply(wire, { key: signing.key, requestMac: signing.mac }) : wire;
  }

  /** End step 6 for a UDP reply: the reply, a slip, or undefined (dropped). */
  function rateLimit(
    limiter: ResponseRateLimiter,
    reply: Buffer,
    address: string,
    snapshot: Snapshot,
  ): Buffer | undefined {
    const rcode = (reply[3] as number) & 0x0f;
    const cls = rrlClassOf(rcode, reply.readUInt16BE(6));
    const owner = questionName(reply);
    if (owner === undefined) return reply;
    let name = 0;
    if (cls === 2) {
      // NXDOMAIN is limited per zone: a random-subdomain flood spends one bucket.
      if (snapshot.zone.name !== zoneName) {
        zoneName = snapshot.zone.name;
        zoneHash = rrlNameHash(zoneName);
      }
      name = zoneHash;
    } else if (cls !== 3) name = owner;
    const now = Date.now();
    const verdict = limiter.checkAddress(address, cls, name, now);
    if (verdict === 'pass') return reply;
    const slipped = verdict === 'slip';
    counted = {
      counter: metrics.rrl[slipped ? 0 : 1]?.[cls] as { inc(): void },
      truncated: false,
      decisions: NO_DECISIONS,
    };
    const gate = rrlLog.allow(now);
    if (gate)
      deps.logger.info(
        {
          client: address,
          class: RRL_CLASS_NAMES[cls],
          action: slipped ? 'slipped' : 'dropped',
          suppressed: gate.suppressed,
        },
        'response rate limited',
      );
    return slipped ? slipReply(reply, questionEnd) : undefined;
  }

  const shedder = deps.shedder;
  const shedCount: Counted = {
    counter: metrics.shed,
    truncated: false,
    decisions: NO_DECISIONS,
  };

  const handle = (msg: Buffer, transport: Transport, address: string, port: number): Reply => {
    // begin 0: shedding.
    if (shedder && transport === 'udp' && !shedder.admit()) {
      count(shedCount);
      return undefined;
    }
    counted = undefined;
    cookieValid = false;
    const snapshot = deps.snapshot();
    let reply = answer(msg, transport, address, port, snapshot);
    // end 6: rate limit.
    if (
      rrl &&
      transport === 'udp' &&
      Buffer.isBuffer(reply) &&
      !cookieValid &&
      !rrl.allowed?.(address)
    )
      reply = rateLimit(rrl.limiter, reply, address, snapshot);
    // end 7: count.
    if (counted) count(counted);
    return reply;
  };

  /** Answers into `snapshot`'s cache without counting anything (the prewarm's entry point). */
  function answerUncounted(
    msg: Buffer,
    transport: Transport,
    address: string,
    snapshot: Snapshot,
  ): void {
    prewarming = true;
    try {
      answer(msg, transport, address, 0, snapshot);
    } finally {
      prewarming = false;
    }
    counted = undefined;
  }

  function* prewarm(next: Snapshot, previous: Snapshot | undefined): Generator<void, number> {
    const from = useCache && previous ? existingAnswerCache(previous) : undefined;
    if (!from) return 0;
    if (from.geoVersion !== deps.settings.geo.version?.()) return 0;
    // Taken whole first: live hits reorder the cache's lists between the steps below.
    const entries: CachedAnswer[] = [];
    for (const e of from.hottestFirst()) if (entries.push(e) >= PREWARM_MAX) break;
    let done = 0;
    for (const e of entries) {
      // The cached key is the query from octet 2 on, its name case-folded: a query again.
      const msg = Buffer.allocUnsafe(e.key.length + 2);
      msg[0] = 0;
      msg[1] = 0;
      e.key.copy(msg, 2);
      answerUncounted(msg, e.transport as Transport, e.address, next);
      // Steps of 8 answers: a fresh answer after a node change may take half a millisecond
      // (pools ranked anew), and a step is how far the driver's slice can overrun.
      if (++done % 8 === 0) yield;
    }
    return done;
  }

  return Object.assign(handle, { prewarm });
}
