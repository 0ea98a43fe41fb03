// The zone's own records: the apex SOA and NS set (with in-zone name server addresses) from
// the config, the operator's static records from the zone text, and the live ACME challenge
// TXT values. Throws on static records that would make the zone wrong (a SOA, the apex NS
// set); base names belong to the domains' plans and win over both other kinds.
import type { Config } from '../config/schema.js';
import type { StoreState } from './source.js';
import type { AcmeTxt } from '../model/acme.js';
import { RRType } from '../wire/constants.js';
import { encodeName } from '../wire/name.js';
import { ipv4ToBytes, ipv6ToBytes } from '../lib/ip.js';
import { isSubdomainOf } from '../lib/dnsname.js';
import { ZoneError } from '../lib/errors.js';
import { parseZoneText } from '../zone/parse.js';
import { txtRdata } from '../wire/rdata.js';
import { rr, type ResourceRecord } from '../wire/record.js';
import { ZoneData } from '../zone/zone-data.js';

export function soaRecord(config: Config, serial: number): ResourceRecord {
  const s = config.zone.soa;
  const nums = Buffer.alloc(20);
  [serial, s.refresh, s.retry, s.expire, s.minimum].forEach((v, i) =>
    nums.writeUInt32BE(v >>> 0, i * 4),
  );
  const rdata = Buffer.concat([encodeName(s.mname as string), encodeName(s.rname as string), nums]);
  return rr(config.zone.name, RRType.SOA, s.ttl, rdata);
}

function apexRecords(config: Config): ResourceRecord[] {
  const zone = config.zone.name;
  const out: ResourceRecord[] = [];
  for (const ns of config.zone.ns) {
    out.push(rr(zone, RRType.NS, config.zone.ttl, encodeName(ns.name)));
    if (!isSubdomainOf(ns.name, zone)) continue;
    for (const a of ns.ipv4) out.push(rr(ns.name, RRType.A, config.zone.ttl, ipv4ToBytes(a)));
    for (const a of ns.ipv6) out.push(rr(ns.name, RRType.AAAA, config.zone.ttl, ipv6ToBytes(a)));
  }
  return out;
}

/**
 * The static zone text as parsed by one build, carried to the next: most rebuilds (a
 * domain, a node's health) leave the zone text as it was, and records are immutable, so
 * the parse is reused as it stands.
 */
export interface StaticParse {
  readonly text: string;
  readonly origin: string;
  readonly ttl: number;
  readonly records: readonly ResourceRecord[];
}

function parseStatic(
  text: string,
  origin: string,
  ttl: number,
  previous: StaticParse | undefined,
): StaticParse {
  if (previous && previous.text === text && previous.origin === origin && previous.ttl === ttl)
    return previous;
  return { text, origin, ttl, records: parseZoneText(text, { origin, defaultTtl: ttl }) };
}

function staticRecords(
  config: Config,
  text: string | null,
  previous: StaticParse | undefined,
): StaticParse | undefined {
  if (!text) return undefined;
  const zone = config.zone.name;
  const parsed = parseStatic(text, zone, config.zone.ttl, previous);
  for (const r of parsed.records) {
    if (r.type === RRType.SOA)
      throw new ZoneError(
        `static records may not hold a SOA: it comes from zone.soa in the config`,
      );
    if (r.type === RRType.NS && r.name === zone) {
      throw new ZoneError(
        `static records may not hold the apex NS set: it comes from zone.ns in the config`,
      );
    }
  }
  return parsed;
}

/** When the first challenge value still live at `now` expires: the next rebuild is due. */
export function firstExpiry(txt: readonly AcmeTxt[], now: number): number | undefined {
  let min: number | undefined;
  for (const t of txt)
    if (t.expiresAt > now && (min === undefined || t.expiresAt < min)) min = t.expiresAt;
  return min;
}

/** The challenge TXT values as `[owner, value]`, in a stable order. */
export function acmeTxtRecords(config: Config, txt: readonly AcmeTxt[]): Array<[string, string]> {
  return txt
    .map((t): [string, string] => [`${t.name}.${config.acme.zone as string}`, t.value])
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
}

export interface ZoneContent {
  readonly zone: ZoneData;
  /** The parse of the static zone text, for the next build (undefined without text). */
  readonly statics: StaticParse | undefined;
  /** When the first challenge TXT value in the zone expires (ms). */
  readonly nextExpiry: number | undefined;
}

/**
 * The zone of one build: apex, static records and live challenge values, none on a base
 * name of `plans` (each left out is reported in `warnings`).
 */
export function zoneContent(
  config: Config,
  state: StoreState,
  plans: ReadonlyMap<string, { readonly domain: string }>,
  serial: number,
  now: number,
  previousStatics: StaticParse | undefined,
  warnings: string[],
  /** DNSKEY, CDS and CDNSKEY of a signed zone. */
  keyRecords: readonly ResourceRecord[] = [],
): ZoneContent {
  const parsed = staticRecords(config, state.zoneText, previousStatics);
  const statics = (parsed?.records ?? []).filter((r) => {
    if (!plans.has(r.name)) return true;
    warnings.push(
      `static record ${r.name} is shadowed by the base name of ${plans.get(r.name)?.domain}`,
    );
    return false;
  });
  // Challenge values are ordinary zone content: served by the static stage, exported and
  // transferred to secondaries; each leaves with the first build after its expiry.
  const liveTxt = (state.acmeTxt ?? []).filter((t) => t.expiresAt > now);
  const challenges = acmeTxtRecords(config, liveTxt).map(([owner, value]) =>
    rr(owner, RRType.TXT, config.acme.txtTtl, txtRdata(value)),
  );
  // A challenge value never breaks the build (the zone would stop following the store):
  // one that lands on an owner the zone already uses is left out and reported.
  const taken = new Set(statics.map((r) => r.name));
  const served = challenges.filter((c) => {
    if (!taken.has(c.name) && !plans.has(c.name)) return true;
    warnings.push(`challenge TXT ${c.name} skipped: the name holds other records of the zone`);
    return false;
  });
  const zone = new ZoneData(config.zone.name, soaRecord(config, serial), [
    ...apexRecords(config),
    ...keyRecords,
    ...statics,
    ...served,
  ]);
  return { zone, statics: parsed, nextExpiry: firstExpiry(liveTxt, now) };
}
