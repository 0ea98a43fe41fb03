// RFC 2136 dynamic UPDATE for the acme zone, so nsupdate and ACME clients' rfc2136 plugins
// publish challenges too. Every UPDATE must be TSIG-signed (RFC 8945) with a key listed in
// acme.update.keys, and may only add or delete TXT at `_acme-challenge.<domain>.<acme zone>`
// for the domains that key is allowed; anything else is REFUSED (NOTAUTH for a bad
// signature or a zone we do not serve). An ExchangeHandler: it awaits the store, never the
// query hot path.
import type { Config } from '../config/schema.js';
import type { AcmeRepository } from './repository.js';
import type { Logger } from '../lib/logger.js';
import type { ExchangeHandler, Signer } from '../pipeline/exchange.js';
import type { Query } from '../wire/decode.js';
import { Opcode, RRClass, RRType, Rcode } from '../wire/constants.js';
import { isSubdomainOf, normalizeName } from '../lib/dnsname.js';
import { signReply, type TsigKey } from '../wire/tsig.js';
import { MalformedUpdate, parseUpdate, txtValue, type UpdateRecord } from '../wire/update.js';
import { txtProblem, type TxtService } from './txt-service.js';

/** RFC 2136 §2.2 RCODEs beyond RFC 1035's. */
const UpdateRcode = { YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTZONE: 10 } as const;

export interface UpdateDeps {
  config: Config;
  repos: { acme: AcmeRepository };
  txt: TxtService;
  logger: Logger;
}

/** Whether `domain` is one of the key's names: exact, or strictly below a `*.` entry. */
export function domainAllowed(domain: string, allowed: readonly string[]): boolean {
  return allowed.some((raw) => {
    const a = normalizeName(raw);
    return a.startsWith('*.')
      ? domain.endsWith(a.slice(1)) && domain.length > a.length - 1
      : a === domain;
  });
}

/**
 * The store name (relative to the acme zone) of an owner this key may change, or why not.
 * Owners are `_acme-challenge.<domain>.<acme zone>`.
 */
export function challengeOwner(
  owner: string,
  acmeZone: string,
  allowed: readonly string[],
): { name: string } | { refused: string } {
  const suffix = `.${acmeZone}`;
  if (!owner.endsWith(suffix)) return { refused: `${owner} is outside ${acmeZone}` };
  const name = owner.slice(0, -suffix.length);
  if (!name.startsWith('_acme-challenge.'))
    return { refused: `${owner} is not an _acme-challenge name` };
  const domain = name.slice('_acme-challenge.'.length);
  if (!domainAllowed(domain, allowed))
    return { refused: `the key may not change challenges of ${domain}` };
  return { name };
}

function reply(request: Buffer, query: Query, rcode: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(request.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8000 | (Opcode.UPDATE << 11) | (rcode & 0x0f), 2);
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, query.question]);
}

type Change =
  | { op: 'add'; name: string; value: string }
  | { op: 'delete'; name: string; value: string | undefined };

export function updateExchange(deps: UpdateDeps): ExchangeHandler {
  return (query, msg, signer) => {
    // Without keys UPDATE is off: the guard answers NOTIMP as for any unsupported opcode.
    if (query.opcode !== Opcode.UPDATE || deps.config.acme.update.keys.length === 0)
      return undefined;
    return handle(deps, query, msg, signer).then(
      (r) => [r],
      (err: unknown) => {
        // A store outage: SERVFAIL, unsigned (the failure may predate the key check).
        deps.logger.error({ err, client: query.clientAddress }, 'dynamic update failed');
        return [reply(msg, query, Rcode.SERVFAIL)];
      },
    );
  };
}

async function handle(
  deps: UpdateDeps,
  query: Query,
  msg: Buffer,
  signer: Signer | undefined,
): Promise<Buffer> {
  const { config, logger } = deps;
  const acmeZone = config.acme.zone as string;
  const log = (rcode: number, why: string, key?: string) =>
    logger.info({ client: query.clientAddress, key, rcode, why }, 'dynamic update refused');

  // RFC 2136 §3.1.1: a zone we are not authoritative for is NOTAUTH, before anything else.
  if (query.qname !== config.zone.name && query.qname !== acmeZone) {
    log(Rcode.NOTAUTH, `zone ${query.qname} is not served here`);
    return reply(msg, query, Rcode.NOTAUTH);
  }
  // The handler verified the signature; a bad one never reaches here.
  if (!signer) {
    log(Rcode.REFUSED, 'unsigned');
    return reply(msg, query, Rcode.REFUSED);
  }
  const key: TsigKey = signer.key;
  const signed = (rcode: number) =>
    signReply(reply(msg, query, rcode), { key, requestMac: signer.mac });
  const policy = config.acme.update.keys.find((k) => normalizeName(k.key) === key.name);
  if (!policy) {
    log(Rcode.REFUSED, 'key not listed in acme.update.keys', key.name);
    return signed(Rcode.REFUSED);
  }

  let parsed;
  try {
    parsed = parseUpdate(msg);
  } catch (err) {
    log(Rcode.FORMERR, err instanceof MalformedUpdate ? err.message : String(err), key.name);
    return signed(Rcode.FORMERR);
  }
  if (parsed.zoneType !== RRType.SOA || parsed.zoneClass !== RRClass.IN)
    return signed(Rcode.FORMERR);
  const current = await deps.repos.acme.listTxt(Date.now());
  const prereq = checkPrerequisites(parsed.prerequisites, current, query.qname, acmeZone);
  if (prereq !== Rcode.NOERROR) return signed(prereq);

  const changes: Change[] = [];
  for (const rr of parsed.updates) {
    if (!isSubdomainOf(rr.name, query.qname)) return signed(UpdateRcode.NOTZONE);
    const owner = challengeOwner(rr.name, acmeZone, policy.domains);
    if ('refused' in owner) {
      log(Rcode.REFUSED, owner.refused, key.name);
      return signed(Rcode.REFUSED);
    }
    const change = toChange(rr, owner.name);
    if (change === 'formerr') return signed(Rcode.FORMERR);
    if (change === 'refused') {
      log(Rcode.REFUSED, `only TXT may change at ${rr.name}`, key.name);
      return signed(Rcode.REFUSED);
    }
    changes.push(change);
  }

  // RFC 2136 §3.4: prescan done, apply all. The TTL asked for is not kept: challenge
  // records carry acme.txtTtl and expire after acme.txtLifetimeSec like every other.
  const expiresAt = Date.now() + config.acme.txtLifetimeSec * 1000;
  for (const c of changes) {
    if (c.op === 'add') await deps.repos.acme.putTxt({ name: c.name, value: c.value, expiresAt });
    else await deps.repos.acme.deleteTxt(c.name, c.value);
  }
  if (changes.length > 0) await deps.txt.settle(config.acme.propagation.wait);
  logger.info(
    { client: query.clientAddress, key: key.name, changes: changes.length },
    'dynamic update',
  );
  return signed(Rcode.NOERROR);
}

/** RFC 2136 §2.5 update forms, for TXT only. */
function toChange(rr: UpdateRecord, name: string): Change | 'formerr' | 'refused' {
  if (rr.class === RRClass.IN) {
    if (rr.type !== RRType.TXT) return 'refused';
    let value: string;
    try {
      value = txtValue(rr.rdata);
    } catch {
      return 'formerr';
    }
    if (txtProblem(value)) return 'refused';
    return { op: 'add', name, value };
  }
  if (rr.class === RRClass.ANY) {
    // §2.5.2 / §2.5.3: delete the TXT RRset, or all RRsets of the name (only TXT lives here).
    if (rr.ttl !== 0 || rr.rdata.length !== 0) return 'formerr';
    if (rr.type !== RRType.TXT && rr.type !== RRType.ANY) return 'refused';
    return { op: 'delete', name, value: undefined };
  }
  if (rr.class === RRClass.NONE) {
    // §2.5.4: delete one record.
    if (rr.ttl !== 0) return 'formerr';
    if (rr.type !== RRType.TXT) return 'refused';
    try {
      return { op: 'delete', name, value: txtValue(rr.rdata) };
    } catch {
      return 'formerr';
    }
  }
  return 'formerr';
}

/**
 * RFC 2136 §3.2 against the challenge values. Only the acme zone's TXT values are looked
 * at: prerequisites on other names are answered as if those names were empty, and a
 * value-dependent prerequisite asks only that the value be among the RRset's.
 */
function checkPrerequisites(
  prereqs: readonly UpdateRecord[],
  current: ReadonlyArray<{ name: string; value: string }>,
  zone: string,
  acmeZone: string,
): number {
  for (const rr of prereqs) {
    if (!isSubdomainOf(rr.name, zone)) return UpdateRcode.NOTZONE;
    if (rr.ttl !== 0) return Rcode.FORMERR;
    const values = current.filter((t) => `${t.name}.${acmeZone}` === rr.name).map((t) => t.value);
    const exists = values.length > 0;
    const isTxt = rr.type === RRType.TXT || rr.type === RRType.ANY;
    if (rr.class === RRClass.ANY) {
      if (rr.rdata.length !== 0) return Rcode.FORMERR;
      if (!(exists && isTxt)) return rr.type === RRType.ANY ? Rcode.NXDOMAIN : UpdateRcode.NXRRSET;
    } else if (rr.class === RRClass.NONE) {
      if (rr.rdata.length !== 0) return Rcode.FORMERR;
      if (exists && isTxt)
        return rr.type === RRType.ANY ? UpdateRcode.YXDOMAIN : UpdateRcode.YXRRSET;
    } else if (rr.class === RRClass.IN) {
      let value: string;
      try {
        value = txtValue(rr.rdata);
      } catch {
        return Rcode.FORMERR;
      }
      if (rr.type !== RRType.TXT || !values.includes(value)) return UpdateRcode.NXRRSET;
    } else return Rcode.FORMERR;
  }
  return Rcode.NOERROR;
}
