// RFC 2136 dynamic UPDATE of the static zone (the operator's records, `cdn:zonefile:{zone}`),
// signed with a TSIG key (RFC 8945) whose UPDATE scope names the owners and types it may
// change. Prerequisites (§2.4, §3.2), the permission check (§3.3), the prescan and the
// changes (§3.4) run against one read of the stored text; the result is written back only if
// that text is still the stored one, so a message is applied whole or not at all, and an
// interleaved writer makes it start over. The snapshot then follows as for any zone change:
// new serial, journal entry (IXFR), NOTIFY.
// What no key may change: the SOA, the apex NS set, GSLB base names (API-owned) and the
// ACME challenge zone (acme/update.ts). Requests this handler does not claim (challenge
// updates of a key listed in acme.update.keys) go on to acme/update.ts.
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/logger.js';
import type { AcmeTxt } from '../model/acme.js';
import type { ExchangeHandler, Signer } from '../pipeline/exchange.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Query } from '../wire/decode.js';
import type { ZoneTextRepository } from '../zone/repository.js';
import type { Peers } from './peers.js';
import type { UpdateScope } from './update-scope.js';
import { MAX_MESSAGE, Opcode, RRClass, RRType, Rcode, typeName } from '../wire/constants.js';
import { Ede, encodeResponse, type ExtendedError } from '../wire/encode.js';
import { fqdn, isSubdomainOf, normalizeName } from '../lib/dnsname.js';
import { errorMessage } from '../lib/errors.js';
import { signReply } from '../wire/tsig.js';
import {
  MalformedUpdate,
  parseUpdate,
  type UpdateMessage,
  type UpdateRecord,
} from '../wire/update.js';
import { formatRecord, rr, type ResourceRecord } from '../wire/record.js';
import { parseZoneText } from '../zone/parse.js';
import { canonicalSort, type ZoneData } from '../zone/zone-data.js';
import { zoneContent } from '../snapshot/zone-content.js';

/** RFC 2136 §2.2 RCODEs beyond RFC 1035's. */
export const UpdateRcode = { YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTZONE: 10 } as const;

/** Types that are never records: FORMERR in an update (RFC 2136 §3.4.1.2). */
const META = new Set<number>([
  RRType.OPT,
  RRType.TSIG,
  RRType.IXFR,
  RRType.AXFR,
  RRType.MAILA,
  RRType.MAILB,
]);

/**
 * How often a message is checked again when another instance changed the zone text between
 * its read and its write; a random pause of up to RETRY_PAUSE_MS comes before each retry.
 */
const ATTEMPTS = 20;
const RETRY_PAUSE_MS = 50;

export interface ZoneUpdateDeps {
  config: Config;
  zoneText: ZoneTextRepository;
  listAcmeTxt: (now: number) => Promise<AcmeTxt[]>;
  snapshot: () => Snapshot;
  peers: () => Peers;
  /** Resolves once a snapshot with the change is served (the reply then tells the truth). */
  flush: () => Promise<void>;
  logger: Logger;
}

/** Thrown inside a handling to answer with `rcode`; `why` is logged. */
class UpdateAnswer extends Error {
  constructor(
    readonly rcode: number,
    readonly why: string,
    /** A policy refusal: EDE Prohibited (RFC 8914 §4.19) where the reply has EDNS. */
    readonly prohibited = false,
  ) {
    super(why);
  }
}

/**
 * The reply: header and zone section; with an OPT record when the request had one (RFC 6891),
 * which then carries `ede` (RFC 8914), e.g. Prohibited for what the key may not change.
 */
function reply(
  request: Buffer,
  query: Query,
  rcode: number,
  udpSize: number,
  ede?: ExtendedError,
): Buffer {
  if (query.edns)
    return encodeResponse(
      query,
      { rcode, authoritative: false, answer: [], authority: [], additional: [], ede },
      { maxSize: MAX_MESSAGE, ourUdpSize: udpSize, nsid: undefined },
    );
  const header = Buffer.alloc(12);
  header.writeUInt16BE(request.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8000 | (Opcode.UPDATE << 11) | (rcode & 0x0f), 2);
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, query.question]);
}

/**
 * Whether acme/update.ts should answer: the key publishes challenges (acme.update.keys) and
 * every owner the message names lies in the ACME zone. Such a key keeps working as it did
 * whether or not it also has a static scope.
 */
function forAcme(config: Config, keyName: string | undefined, msg: UpdateMessage): boolean {
  const acmeZone = config.acme.zone as string;
  if (msg.zone === acmeZone && acmeZone !== config.zone.name) return true;
  if (keyName === undefined) return false;
  if (!config.acme.update.keys.some((k) => normalizeName(k.key) === keyName)) return false;
  return [...msg.prerequisites, ...msg.updates].every((r) => isSubdomainOf(r.name, acmeZone));
}

export function zoneUpdateExchange(deps: ZoneUpdateDeps): ExchangeHandler {
  // One message at a time per instance, as a primary serializes a zone's updates: they
  // contend only with other instances' writes. The wait for the snapshot is outside.
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };
  return (query, msg, signer) => {
    if (query.opcode !== Opcode.UPDATE) return undefined;
    const peers = deps.peers();
    // No key may update the static zone: UPDATE stays acme/update.ts's (or NOTIMP).
    if (peers.updateScopes.size === 0) return undefined;
    let parsed: UpdateMessage | undefined;
    try {
      parsed = parseUpdate(msg);
    } catch (err) {
      if (!(err instanceof MalformedUpdate)) throw err;
    }
    const acmeOwnsUpdate = deps.config.acme.update.keys.length > 0;
    if (parsed && acmeOwnsUpdate && forAcme(deps.config, signer?.key.name, parsed))
      return undefined;
    // Unsigned, or signed with a key without a scope: the ACME handler answers when it serves
    // UPDATE at all (it refuses those the same way); else this handler refuses them here.
    const scope = signer ? peers.updateScopes.get(signer.key.name) : undefined;
    if (!scope && acmeOwnsUpdate) return undefined;
    return handle(deps, serialize, query, msg, parsed, signer, scope).then(
      (r) => [r],
      (err: unknown) => {
        deps.logger.error({ err, client: query.clientAddress }, 'dynamic update failed');
        // Signed when the request was, so the client sees the SERVFAIL and not a TSIG error.
        if (signer)
          return [
            signReply(reply(msg, query, Rcode.SERVFAIL, deps.config.dns.udpSize), {
              key: signer.key,
              requestMac: signer.mac,
            }),
          ];
        return [reply(msg, query, Rcode.SERVFAIL, deps.config.dns.udpSize)];
      },
    );
  };
}

async function handle(
  deps: ZoneUpdateDeps,
  serialize: <T>(fn: () => Promise<T>) => Promise<T>,
  query: Query,
  msg: Buffer,
  parsed: UpdateMessage | undefined,
  signer: Signer | undefined,
  scope: UpdateScope | undefined,
): Promise<Buffer> {
  const { config, logger } = deps;
  const zone = normalizeName(config.zone.name);
  const keyName = signer?.key.name;
  const answer = (rcode: number, ede?: ExtendedError): Buffer => {
    const r = reply(msg, query, rcode, config.dns.udpSize, ede);
    return signer ? signReply(r, { key: signer.key, requestMac: signer.mac }) : r;
  };
  const refuse = (rcode: number, why: string, prohibited = false): Buffer => {
    logger.info(
      { client: query.clientAddress, key: keyName, rcode, why },
      'dynamic update refused',
    );
    return answer(rcode, prohibited ? { code: Ede.PROHIBITED, text: why } : undefined);
  };
  // RFC 2136 §3.1.1: the zone section first; a zone we do not serve is NOTAUTH.
  if (!parsed) return refuse(Rcode.FORMERR, 'malformed UPDATE');
  if (parsed.zoneType !== RRType.SOA) return refuse(Rcode.FORMERR, 'zone section type is not SOA');
  if (parsed.zone !== zone || parsed.zoneClass !== RRClass.IN)
    return refuse(Rcode.NOTAUTH, `zone ${parsed.zone} is not served here`);
  // The handler verified any signature; a bad one never reaches here.
  if (!signer) return refuse(Rcode.REFUSED, 'unsigned', true);
  if (!scope) return refuse(Rcode.REFUSED, 'the key has no UPDATE scope', true);

  try {
    const result = await serialize(() =>
      deps.zoneText.edit(zone, (text) => attemptUpdate(deps, zone, parsed, scope, text), {
        attempts: ATTEMPTS,
        pauseMs: RETRY_PAUSE_MS,
      }),
    );
    if (result === 'conflict') throw new Error('the zone text kept changing under the update');
    if (result.changed > 0) await deps.flush();
    logger.info(
      { client: query.clientAddress, key: keyName, changes: result.changed },
      'dynamic update',
    );
    return answer(Rcode.NOERROR);
  } catch (err) {
    if (err instanceof UpdateAnswer) return refuse(err.rcode, err.why, err.prohibited);
    throw err;
  }
}

/** One owner's RRsets while a message is applied: type → TTL and rdata (distinct). */
type Owner = Map<number, { ttl: number; rdata: Buffer[] }>;
type Model = Map<string, Owner>;

function toModel(records: readonly ResourceRecord[]): Model {
  const model: Model = new Map();
  for (const r of records) addRecord(model, r.name, r.type, r.ttl, r.rdata, false);
  return model;
}

/** Adds one record; with `retime` the RRset takes its TTL (RFC 2181 §5.2: one TTL per RRset). */
function addRecord(
  model: Model,
  name: string,
  type: number,
  ttl: number,
  rdata: Buffer,
  retime: boolean,
): boolean {
  let owner = model.get(name);
  if (!owner) model.set(name, (owner = new Map()));
  let set = owner.get(type);
  if (!set) owner.set(type, (set = { ttl, rdata: [] }));
  let changed = false;
  if (retime && set.ttl !== ttl) {
    set.ttl = ttl;
    changed = true;
  }
  if (!set.rdata.some((d) => d.equals(rdata))) {
    set.rdata.push(rdata);
    changed = true;
  }
  return changed;
}

function toText(zone: string, model: Model): string {
  const lines = [`$ORIGIN ${fqdn(zone)}`];
  for (const name of canonicalSort([...model.keys()])) {
    const owner = model.get(name) as Owner;
    for (const type of [...owner.keys()].sort((a, b) => a - b)) {
      const set = owner.get(type) as { ttl: number; rdata: Buffer[] };
      for (const d of set.rdata) lines.push(formatRecord(rr(name, type, set.ttl, d)));
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Checks and applies the message against the stored `text`: the text to write (undefined
 * when nothing changes) and how many records changed. The caller writes it only if the
 * text is still the stored one (ZoneTextRepository.edit).
 */
async function attemptUpdate(
  deps: ZoneUpdateDeps,
  zone: string,
  msg: UpdateMessage,
  scope: UpdateScope,
  text: string | null,
): Promise<{ text: string | undefined; result: { changed: number } }> {
  const { config } = deps;
  const now = Date.now();
  const acmeTxt = await deps.listAcmeTxt(now);
  const snapshot = deps.snapshot();
  const baseNames = snapshot.plans;
  const view = (zoneText: string | null): ZoneData =>
    zoneContent(
      config,
      { domains: [], nodes: [], zoneText, policy: null, acmeTxt },
      baseNames,
      snapshot.serial,
      now,
      undefined,
      [],
    ).zone;
  // The zone as the message finds it: apex, static records, challenge values.
  const before = view(text);
  checkPrerequisites(msg.prerequisites, before, baseNames, zone);

  const acmeZone = config.acme.zone as string;
  // RFC 2136 §3.3 and §3.4.1: every update is checked before any is applied.
  for (const u of msg.updates) {
    if (!isSubdomainOf(u.name, zone))
      throw new UpdateAnswer(UpdateRcode.NOTZONE, `${u.name} is outside ${zone}`);
    prescan(u);
    const what = `${u.name} ${u.type === RRType.ANY ? 'ANY' : typeName(u.type)}`;
    if (u.type === RRType.SOA)
      throw new UpdateAnswer(Rcode.REFUSED, `${what}: the SOA is config-owned`, true);
    if (u.name === zone && u.type === RRType.NS)
      throw new UpdateAnswer(Rcode.REFUSED, `${what}: the apex NS set is config-owned`, true);
    if (baseNames.has(u.name))
      throw new UpdateAnswer(Rcode.REFUSED, `${what}: a GSLB base name is API-owned`, true);
    if (isSubdomainOf(u.name, acmeZone) && acmeZone !== zone)
      throw new UpdateAnswer(Rcode.REFUSED, `${what}: the ACME zone takes challenges only`, true);
    if (!scope.coversName(u.name))
      throw new UpdateAnswer(Rcode.REFUSED, `${what}: the key may not change ${u.name}`, true);
    if (u.type !== RRType.ANY && !scope.coversType(u.type))
      throw new UpdateAnswer(
        Rcode.REFUSED,
        `${what}: the key may not change ${typeName(u.type)}`,
        true,
      );
  }

  const statics = text ? parseZoneText(text, { origin: zone, defaultTtl: config.zone.ttl }) : [];
  const model = toModel(statics);
  let changed = 0;
  for (const u of msg.updates) changed += apply(model, u, scope, zone);
  if (changed === 0) return { text: undefined, result: { changed } };

  const next = toText(zone, model);
  try {
    view(next);
  } catch (err) {
    // The checks the snapshot build makes (CNAME and other data, records outside the zone).
    throw new UpdateAnswer(Rcode.REFUSED, `the zone would be invalid: ${errorMessage(err)}`);
  }
  return { text: next, result: { changed } };
}

/** RFC 2136 §3.4.1.2: the form of each update RR. */
function prescan(u: UpdateRecord): void {
  const bad = (why: string) => new UpdateAnswer(Rcode.FORMERR, `${u.name}: ${why}`);
  if (META.has(u.type)) throw bad(`type ${typeName(u.type)} cannot be updated`);
  if (u.class === RRClass.IN) {
    if (u.type === RRType.ANY) throw bad('ANY cannot be added');
    if (u.ttl > 0x7fffffff) throw bad('TTL exceeds 2^31-1');
  } else if (u.class === RRClass.ANY) {
    if (u.ttl !== 0 || u.rdata.length !== 0) throw bad('an RRset deletion carries TTL or rdata');
  } else if (u.class === RRClass.NONE) {
    if (u.ttl !== 0) throw bad('a record deletion carries a TTL');
    if (u.type === RRType.ANY) throw bad('ANY cannot be deleted by value');
  } else throw bad(`class ${u.class} is not the zone's`);
}

/** RFC 2136 §3.4.2: applies one update to the model; the number of records it changed. */
function apply(model: Model, u: UpdateRecord, scope: UpdateScope, zone: string): number {
  const owner = model.get(u.name);
  if (u.class === RRClass.IN) {
    // The apex always holds the SOA and NS set, which live outside the model.
    const others = [...(owner?.keys() ?? [])].filter((t) => t !== RRType.CNAME);
    if (u.type === RRType.CNAME) {
      // §3.4.2.2 and RFC 1034 §3.6.2: a CNAME beside other data is ignored; a CNAME
      // replaces the CNAME there.
      if (others.length > 0 || u.name === zone) return 0;
      const current = owner?.get(RRType.CNAME);
      if (current && current.rdata.length === 1 && current.rdata[0]?.equals(u.rdata)) {
        if (current.ttl === u.ttl) return 0;
        current.ttl = u.ttl;
        return 1;
      }
      owner?.delete(RRType.CNAME);
      addRecord(model, u.name, u.type, u.ttl, u.rdata, true);
      return 1;
    }
    // Other data at a CNAME is ignored.
    if (owner?.has(RRType.CNAME)) return 0;
    return addRecord(model, u.name, u.type, u.ttl, u.rdata, true) ? 1 : 0;
  }
  if (!owner) return 0;
  let removed = 0;
  const drop = (type: number): void => {
    removed += owner.get(type)?.rdata.length ?? 0;
    owner.delete(type);
  };
  if (u.class === RRClass.ANY) {
    // §3.4.2.3: every RRset of the name, here those of the types the key may change.
    if (u.type !== RRType.ANY) drop(u.type);
    else for (const t of [...owner.keys()]) if (scope.coversType(t)) drop(t);
  } else {
    const set = owner.get(u.type);
    const i = set ? set.rdata.findIndex((d) => d.equals(u.rdata)) : -1;
    if (set && i >= 0) {
      set.rdata.splice(i, 1);
      removed = 1;
      if (set.rdata.length === 0) owner.delete(u.type);
    }
  }
  if (owner.size === 0) model.delete(u.name);
  return removed;
}

/**
 * RFC 2136 §2.4 and §3.2 against the zone as it stands. A GSLB base name is in use (its
 * answers are computed, not stored, so only name-level prerequisites see it).
 */
function checkPrerequisites(
  prereqs: readonly UpdateRecord[],
  zoneData: ZoneData,
  baseNames: ReadonlyMap<string, unknown>,
  zone: string,
): void {
  const inUse = (name: string) => zoneData.rrsets(name).size > 0 || baseNames.has(name);
  /** §3.2.3: value-dependent prerequisites, gathered per RRset and compared whole. */
  const wanted = new Map<string, { name: string; type: number; rdata: Buffer[] }>();
  for (const p of prereqs) {
    const what = `prerequisite ${p.name} ${p.type === RRType.ANY ? 'ANY' : typeName(p.type)}`;
    if (p.ttl !== 0) throw new UpdateAnswer(Rcode.FORMERR, `${what} has a TTL`);
    if (!isSubdomainOf(p.name, zone))
      throw new UpdateAnswer(UpdateRcode.NOTZONE, `${what} is outside ${zone}`);
    if (p.class === RRClass.ANY) {
      if (p.rdata.length !== 0) throw new UpdateAnswer(Rcode.FORMERR, `${what} has rdata`);
      if (p.type === RRType.ANY) {
        // §2.4.4: name is in use.
        if (!inUse(p.name)) throw new UpdateAnswer(Rcode.NXDOMAIN, `${what}: name not in use`);
      } else if (!zoneData.rrsets(p.name).has(p.type)) {
        // §2.4.1: RRset exists (value independent).
        throw new UpdateAnswer(UpdateRcode.NXRRSET, `${what}: RRset does not exist`);
      }
    } else if (p.class === RRClass.NONE) {
      if (p.rdata.length !== 0) throw new UpdateAnswer(Rcode.FORMERR, `${what} has rdata`);
      if (p.type === RRType.ANY) {
        // §2.4.5: name is not in use.
        if (inUse(p.name)) throw new UpdateAnswer(UpdateRcode.YXDOMAIN, `${what}: name in use`);
      } else if (zoneData.rrsets(p.name).has(p.type)) {
        // §2.4.3: RRset does not exist.
        throw new UpdateAnswer(UpdateRcode.YXRRSET, `${what}: RRset exists`);
      }
    } else if (p.class === RRClass.IN) {
      if (META.has(p.type) || p.type === RRType.ANY)
        throw new UpdateAnswer(Rcode.FORMERR, `${what}: not a record type`);
      const k = `${p.name}\0${p.type}`;
      const entry = wanted.get(k) ?? { name: p.name, type: p.type, rdata: [] };
      if (!entry.rdata.some((d) => d.equals(p.rdata))) entry.rdata.push(p.rdata);
      wanted.set(k, entry);
    } else throw new UpdateAnswer(Rcode.FORMERR, `${what}: class ${p.class}`);
  }
  // §2.4.2: RRset exists (value dependent): the same records, no more, no fewer.
  for (const w of wanted.values()) {
    const have = zoneData.rrsets(w.name).get(w.type) ?? [];
    const same =
      have.length === w.rdata.length && have.every((r) => w.rdata.some((d) => d.equals(r.rdata)));
    if (!same)
      throw new UpdateAnswer(
        UpdateRcode.NXRRSET,
        `prerequisite ${w.name} ${typeName(w.type)}: RRset differs`,
      );
  }
}
