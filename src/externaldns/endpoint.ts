// ExternalDNS's Endpoint as the webhook API carries it, and what one means in Cirrus: an
// RRset of the static zone, or the origins of one family of a GSLB domain. Follows
// external-dns v0.22.0-12-g2bf1bf8af (api/webhook.yaml, endpoint/endpoint.go, plan/plan.go):
// the JSON of Go's endpoint.Endpoint and plan.Changes, every field optional (omitempty).
// Deciding whether an endpoint is allowed here is pure: the provider passes the zone facts.
import type { Config } from '../config/schema.js';
import { isSubdomainOf, nameProblem, normalizeName, fqdn } from '../lib/dnsname.js';
import { ipFamily } from '../lib/ip.js';
import { RRType, typeName } from '../wire/constants.js';
import { formatRdata } from '../wire/rdata.js';
import type { ResourceRecord } from '../wire/record.js';

/** The media type and version ExternalDNS negotiates, sends and checks, byte for byte. */
export const MEDIA_TYPE = 'application/external.dns.webhook+json;version=1';

/**
 * The providerSpecific name that maps an endpoint to a GSLB domain: what ExternalDNS makes of
 * the annotation `external-dns.kubernetes.io/webhook-cirrus-domain` (source/annotations:
 * `webhook-<x>` → `webhook/<x>`). The value is the customer host name of the domain.
 */
export const DOMAIN_PROPERTY = 'webhook/cirrus-domain';
/** Other spellings accepted (a DNSEndpoint resource may name properties freely). */
const DOMAIN_PROPERTY_ALIASES = new Set([DOMAIN_PROPERTY, 'cirrus/domain', 'cirrus-domain']);

export interface ProviderSpecificProperty {
  name?: string;
  value?: string;
}

export interface Endpoint {
  dnsName?: string;
  targets?: string[] | null;
  recordType?: string;
  setIdentifier?: string;
  recordTTL?: number;
  labels?: Record<string, string> | null;
  providerSpecific?: ProviderSpecificProperty[] | null;
}

export interface Changes {
  create?: Endpoint[] | null;
  updateOld?: Endpoint[] | null;
  updateNew?: Endpoint[] | null;
  delete?: Endpoint[] | null;
}

/** Record types an endpoint may hold in the static zone (ExternalDNS's known types we serve). */
const STATIC_TYPES = new Map<string, number>([
  ['A', RRType.A],
  ['AAAA', RRType.AAAA],
  ['CNAME', RRType.CNAME],
  ['TXT', RRType.TXT],
  ['MX', RRType.MX],
  ['SRV', RRType.SRV],
  ['NS', RRType.NS],
  ['PTR', RRType.PTR],
]);

export const STATIC_TYPE_CODES = new Set(STATIC_TYPES.values());

/** Which origins of a GSLB domain an endpoint of this type stands for. */
export type OriginFamily = 'ipv4' | 'ipv6' | 'name';
const FAMILY_OF_TYPE: Record<string, OriginFamily> = { A: 'ipv4', AAAA: 'ipv6', CNAME: 'name' };
export const TYPE_OF_FAMILY: Record<OriginFamily, string> = {
  ipv4: 'A',
  ipv6: 'AAAA',
  name: 'CNAME',
};

export function originFamily(address: string): OriginFamily {
  const f = ipFamily(address);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : 'name';
}

/** What the zone looks like to the classifier. */
export interface ZoneFacts {
  /** Base names (full) → customer domain, of the GSLB domains. */
  baseNames: ReadonlyMap<string, string>;
}

export type Classified =
  | {
      kind: 'static';
      name: string;
      type: number;
      typeName: string;
      /** RFC 1035 rdata text of each target, absolute names. */
      rdata: string[];
      /** 0: not configured (the zone's default TTL applies). */
      ttl: number;
    }
  | {
      kind: 'domain';
      name: string;
      label: string;
      domain: string;
      family: OriginFamily;
      /** Origin addresses: IPs in canonical form, or host names. */
      targets: string[];
      ttl: number;
    };

/** Why an endpoint is refused; `reason` is a bounded metric label, `field` names the field. */
export class EndpointRefusal extends Error {
  constructor(
    readonly reason:
      | 'outside_zone'
      | 'reserved_name'
      | 'base_name'
      | 'unsupported_type'
      | 'bad_target'
      | 'bad_domain'
      | 'set_identifier',
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

function domainProperty(ep: Endpoint): string | undefined {
  for (const p of ep.providerSpecific ?? []) {
    if (p.name !== undefined && DOMAIN_PROPERTY_ALIASES.has(p.name)) return p.value ?? '';
  }
  return undefined;
}

/** A TXT target as its character-string text: an outer pair of quotes is not content. */
function txtRdataText(target: string): string {
  const inner =
    target.length >= 2 && target.startsWith('"') && target.endsWith('"')
      ? target.slice(1, -1)
      : target;
  const bytes = Buffer.from(inner, 'utf8');
  const parts: string[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    let s = '"';
    for (const b of bytes.subarray(i, i + 255)) {
      if (b === 0x22 || b === 0x5c) s += '\\' + String.fromCharCode(b);
      else if (b < 0x20 || b > 0x7e) s += '\\' + String(b).padStart(3, '0');
      else s += String.fromCharCode(b);
    }
    parts.push(s + '"');
  }
  return parts.join(' ');
}

function hostTarget(t: string, field: string, trailingDotOk = false): string {
  if (trailingDotOk && t === '.') return '.';
  const problem = nameProblem(t);
  if (problem) throw new EndpointRefusal('bad_target', `${field} "${t}" ${problem}`, field);
  return fqdn(normalizeName(t));
}

function u16(t: string | undefined, what: string, field: string): string {
  if (t === undefined || !/^\d{1,5}$/.test(t) || Number(t) > 65535) {
    throw new EndpointRefusal('bad_target', `${field}: ${what} must be 0-65535`, field);
  }
  return t;
}

/** One target as zone-file rdata text, checked for its type. */
function rdataText(type: string, target: string, field: string): string {
  switch (type) {
    case 'A':
    case 'AAAA':
      if (ipFamily(target) !== (type === 'A' ? 4 : 6)) {
        throw new EndpointRefusal(
          'bad_target',
          `${field} "${target}" is not an IPv${type === 'A' ? 4 : 6} address`,
          field,
        );
      }
      return target;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return hostTarget(target, field);
    case 'TXT':
      return txtRdataText(target);
    case 'MX': {
      const parts = target.trim().split(/\s+/);
      if (parts.length !== 2)
        throw new EndpointRefusal('bad_target', `${field} must be "<preference> <host>"`, field);
      return `${u16(parts[0], 'preference', field)} ${hostTarget(parts[1] as string, field)}`;
    }
    case 'SRV': {
      const parts = target.trim().split(/\s+/);
      if (parts.length !== 4) {
        throw new EndpointRefusal(
          'bad_target',
          `${field} must be "<priority> <weight> <port> <target>"`,
          field,
        );
      }
      const [p, w, port, host] = parts as [string, string, string, string];
      return `${u16(p, 'priority', field)} ${u16(w, 'weight', field)} ${u16(port, 'port', field)} ${hostTarget(host, field, true)}`;
    }
    default:
      throw new EndpointRefusal('unsupported_type', `${field}: type ${type} is not served`, field);
  }
}

/**
 * What `ep` means in the zone of `config`, or an EndpointRefusal naming the field at fault
 * (under `at`, e.g. `create[0]`). Refused: names outside the zone, the apex SOA/NS, the
 * in-zone name server names, the ACME challenge zone, plain records on a GSLB base name,
 * set identifiers (Cirrus has no routing-policy sets), types it does not serve.
 */
export function classify(config: Config, facts: ZoneFacts, ep: Endpoint, at: string): Classified {
  const zone = config.zone.name;
  const dnsName = ep.dnsName ?? '';
  const name = normalizeName(dnsName);
  const nameField = `${at}.dnsName`;
  const problem = nameProblem(name, { wildcard: true });
  if (problem) throw new EndpointRefusal('outside_zone', `${nameField} ${problem}`, nameField);
  if (!isSubdomainOf(name, zone)) {
    throw new EndpointRefusal(
      'outside_zone',
      `${nameField} ${name} is outside the zone ${zone} this provider serves`,
      nameField,
    );
  }
  const acmeZone = config.acme.zone;
  if (acmeZone && isSubdomainOf(name, acmeZone)) {
    throw new EndpointRefusal(
      'reserved_name',
      `${nameField} ${name} is inside the ACME challenge zone ${acmeZone}`,
      nameField,
    );
  }
  if (config.zone.ns.some((ns) => ns.name === name)) {
    throw new EndpointRefusal(
      'reserved_name',
      `${nameField} ${name} is a name server of the zone (zone.ns in the config)`,
      nameField,
    );
  }
  if (ep.setIdentifier) {
    throw new EndpointRefusal(
      'set_identifier',
      `${at}.setIdentifier: Cirrus has no routing-policy record sets`,
      `${at}.setIdentifier`,
    );
  }
  const type = (ep.recordType ?? '').toUpperCase();
  const typeField = `${at}.recordType`;
  const ttlRaw = ep.recordTTL ?? 0;
  if (!Number.isInteger(ttlRaw) || ttlRaw > 0x7fffffff) {
    throw new EndpointRefusal(
      'bad_target',
      `${at}.recordTTL must be an integer up to 2^31-1`,
      `${at}.recordTTL`,
    );
  }
  const ttl = Math.max(0, ttlRaw);
  const targets = ep.targets ?? [];
  if (targets.length === 0) {
    throw new EndpointRefusal('bad_target', `${at}.targets is empty`, `${at}.targets`);
  }
  const domain = domainProperty(ep);
  const family = FAMILY_OF_TYPE[type];
  if (domain !== undefined && family !== undefined) {
    const where = `${at}.providerSpecific`;
    const d = normalizeName(domain);
    const dProblem = nameProblem(d);
    if (dProblem)
      throw new EndpointRefusal('bad_domain', `${where} ${DOMAIN_PROPERTY} ${dProblem}`, where);
    if (isSubdomainOf(d, zone)) {
      throw new EndpointRefusal(
        'bad_domain',
        `${where} ${DOMAIN_PROPERTY} ${d} must be a customer host name outside ${zone}`,
        where,
      );
    }
    const label = name.endsWith(`.${zone}`) ? name.slice(0, -zone.length - 1) : '';
    if (label === '' || label.includes('.') || label === '*') {
      throw new EndpointRefusal(
        'bad_domain',
        `${nameField}: a GSLB domain is served at one label directly under ${zone}, not ${name}`,
        nameField,
      );
    }
    const out = targets.map((t, i) => {
      const field = `${at}.targets[${i}]`;
      if (family === 'name') return normalizeName(hostTarget(t, field));
      if (originFamily(t) !== family) {
        throw new EndpointRefusal(
          'bad_target',
          `${field} "${t}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`,
          field,
        );
      }
      return t;
    });
    return { kind: 'domain', name, label, domain: d, family, targets: out, ttl };
  }
  const code = STATIC_TYPES.get(type);
  if (code === undefined) {
    throw new EndpointRefusal(
      'unsupported_type',
      `${typeField} "${ep.recordType ?? ''}" is not one of ${[...STATIC_TYPES.keys()].join(', ')}`,
      typeField,
    );
  }
  if (code === RRType.NS && name === zone) {
    throw new EndpointRefusal(
      'reserved_name',
      `${nameField}: the apex NS set comes from zone.ns in the config`,
      nameField,
    );
  }
  const owner = facts.baseNames.get(name);
  if (owner !== undefined) {
    throw new EndpointRefusal(
      'base_name',
      `${nameField} ${name} is the base name of the GSLB domain ${owner}; it is managed through that domain`,
      nameField,
    );
  }
  const rdata = targets.map((t, i) => rdataText(type, t, `${at}.targets[${i}]`));
  return { kind: 'static', name, type: code, typeName: type, rdata, ttl };
}

/** A static record as ExternalDNS writes its target (names without the trailing dot). */
export function targetOf(r: ResourceRecord): string {
  if (r.type === RRType.TXT) {
    const parts: Buffer[] = [];
    for (let p = 0; p < r.rdata.length;) {
      const len = r.rdata[p] as number;
      parts.push(r.rdata.subarray(p + 1, p + 1 + len));
      p += 1 + len;
    }
    return Buffer.concat(parts).toString('utf8');
  }
  const text = formatRdata(r.type, r.rdata);
  // SRV keeps its dots (endpoint.NewEndpointWithTTL trims them from every other name type).
  if (r.type === RRType.SRV) return text;
  return text.endsWith('.') && text !== '.' ? text.slice(0, -1) : text;
}

export function typeText(type: number): string {
  return typeName(type);
}
