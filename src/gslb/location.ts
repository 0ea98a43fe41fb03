// Where a client is, as far as the GSLB chain cares: the ECS subnet (RFC 7871) when the
// query has one with a source prefix > 0 and the domain allows it, else the resolver's
// address; then the operator CIDR map, which wins over GeoIP field by field (gdnsd's
// `nets`). Each fact carries the prefix length over which it holds: the ECS scope of an
// answer is built from the facts its decision consulted.
import type { ClientSubnet } from '../wire/decode.js';
import type { GeoLookup, GeoRecord } from '../geo/geo-record.js';
import { continentOf } from '../geo/continents.js';
import { bytesToIPv4, bytesToIPv6, ipFamily, ipv4ToBytes, ipv6ToBytes } from '../lib/ip.js';
import type { NetMap, NetMatch } from './net-map.js';

export interface Location {
  readonly source: 'ecs' | 'resolver';
  /** The address looked up: the ECS network address, or the resolver's address. */
  readonly address: string;
  readonly bytes: Buffer;
  readonly family: 4 | 6;
  /** ECS source prefix length; the full address length for a resolver. */
  readonly sourcePrefix: number;
  readonly net: NetMatch;
  readonly geo: GeoRecord;
  readonly country: string | undefined;
  readonly continent: string | undefined;
  readonly asn: number | undefined;
  readonly lat: number | undefined;
  readonly lon: number | undefined;
  /** Where the coordinates come from: the GeoIP record, or the continent's centre. */
  readonly coordsFrom: 'geoip' | 'continent' | undefined;
  /** Prefix lengths over which each fact stays the same (RFC 7871 scope material). */
  readonly countryPrefix: number;
  readonly continentPrefix: number;
  readonly asnPrefix: number;
  readonly coordPrefix: number;
}

export interface ClientInput {
  /** The resolver's (source) address as the socket reported it. */
  readonly clientAddress: string;
  readonly ecs: ClientSubnet | undefined;
  /** False when the domain has ECS switched off. */
  readonly useEcs: boolean;
}

/** Rough centres of the GeoIP continents, for 'nearest' when only a country is known. */
const CONTINENT_CENTRES: Readonly<Record<string, readonly [number, number]>> = {
  AF: [1.5, 17.3],
  AN: [-82.9, 135.0],
  AS: [34.0, 100.6],
  EU: [50.0, 12.0],
  NA: [42.0, -98.0],
  OC: [-25.0, 140.0],
  SA: [-12.0, -57.0],
};

function resolverBytes(text: string): { text: string; bytes: Buffer; family: 4 | 6 } | undefined {
  // A dual-stack socket reports IPv4 resolvers as ::ffff:a.b.c.d.
  const plain = text.startsWith('::ffff:') && ipFamily(text.slice(7)) === 4 ? text.slice(7) : text;
  const family = ipFamily(plain);
  if (family === 4) return { text: plain, bytes: ipv4ToBytes(plain), family };
  if (family === 6) return { text: plain, bytes: ipv6ToBytes(plain), family };
  return undefined;
}

const UNSPECIFIED = { text: '0.0.0.0', bytes: Buffer.alloc(4), family: 4 as const };

/** The address a location is looked up for: the ECS subnet's, or the resolver's. */
export interface ClientPoint {
  readonly source: Location['source'];
  readonly text: string;
  readonly bytes: Buffer;
  readonly family: 4 | 6;
  readonly sourcePrefix: number;
}

/** Which address `input` is located by (RFC 7871 §7.1.2: a /0 source says nothing). */
export function clientPoint(input: ClientInput): ClientPoint {
  const ecs = input.ecs;
  if (input.useEcs && ecs && ecs.sourcePrefix > 0) {
    const family = ecs.family === 1 ? 4 : 6;
    return {
      source: 'ecs',
      text: family === 4 ? bytesToIPv4(ecs.address) : bytesToIPv6(ecs.address),
      bytes: ecs.address,
      family,
      sourcePrefix: ecs.sourcePrefix,
    };
  }
  const addr = resolverBytes(input.clientAddress) ?? UNSPECIFIED;
  return {
    source: 'resolver',
    text: addr.text,
    bytes: addr.bytes,
    family: addr.family,
    sourcePrefix: addr.family === 4 ? 32 : 128,
  };
}

export function locate(input: ClientInput, nets: NetMap, geo: GeoLookup): Location {
  return locatePoint(clientPoint(input), nets, geo);
}

/** The location of `point`: the CIDR map's match and the GeoIP record, fact by fact. */
export function locatePoint(point: ClientPoint, nets: NetMap, geo: GeoLookup): Location {
  const { source, sourcePrefix } = point;
  const addr = point;
  const net = nets.match(addr.bytes);
  const g = geo.lookup(addr.text);
  const e = net.entry;
  // A fact from the map holds over the map's scope; a fact from GeoIP holds where both the
  // GeoIP record and the absence of a map override hold.
  const fromMap = (has: boolean, geoPrefix: number) =>
    has ? net.scope : Math.max(net.scope, geoPrefix);
  const mapPlace = e?.country !== undefined || e?.continent !== undefined;
  const country = e?.country?.toUpperCase() ?? (e?.continent !== undefined ? undefined : g.country);
  const continent =
    e?.continent ?? (e?.country !== undefined ? continentOf(e.country) : g.continent);
  let lat: number | undefined;
  let lon: number | undefined;
  let coordsFrom: Location['coordsFrom'];
  if (!mapPlace && g.lat !== undefined && g.lon !== undefined) {
    [lat, lon, coordsFrom] = [g.lat, g.lon, 'geoip'];
  } else if (continent !== undefined && CONTINENT_CENTRES[continent]) {
    [lat, lon] = CONTINENT_CENTRES[continent] as [number, number];
    coordsFrom = 'continent';
  }
  const placePrefix = fromMap(mapPlace, g.geoPrefix);
  return {
    source,
    address: addr.text,
    bytes: addr.bytes,
    family: addr.family,
    sourcePrefix,
    net,
    geo: g,
    country,
    continent,
    asn: e?.asn ?? g.asn,
    lat,
    lon,
    coordsFrom,
    countryPrefix: placePrefix,
    continentPrefix: placePrefix,
    asnPrefix: fromMap(e?.asn !== undefined, g.asnPrefix),
    coordPrefix: placePrefix,
  };
}

/** Great-circle distance in km (haversine). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a =
    Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 12742 * Math.asin(Math.min(1, Math.sqrt(a)));
}
