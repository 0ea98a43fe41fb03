// Client locations remembered per bucket: a /24 for IPv4, a /56 for IPv6. A bucket's
// facts (CIDR-map match, GeoIP record and everything derived from them) are remembered
// only when every address of the bucket provably has the same ones: the map's match
// scope and the GeoIP record's prefixes (geo-record.ts: the depth of the database
// record that answered) are all no longer than the bucket's prefix. An operator CIDR map
// or a GeoIP network finer than the bucket makes it non-uniform: its addresses are then
// looked up one by one, as without the memo. Each distinct set of facts gets a class
// number, the same for every bucket with those facts; the decision-keyed answer cache
// (snapshot/decision-cache.ts) keys answers by it. A memo belongs to one CIDR map and one
// version of the GeoIP data (locationMemoFor), so a reload of either starts a new one.
import type { GeoLookup } from '../geo/geo-record.js';
import type { NetMap } from './net-map.js';
import {
  clientPoint,
  locatePoint,
  type ClientInput,
  type ClientPoint,
  type Location,
} from './location.js';

export const BUCKET_V4 = 24;
export const BUCKET_V6 = 56;

/** Buckets remembered per family before the memo starts over (about 200 bytes each). */
export const MEMO_BUCKETS = 1 << 18;
/** Distinct classes before their numbering table starts over (numbers are never reused). */
const MAX_CLASSES = 1 << 16;

type Facts = Omit<Location, 'source' | 'address' | 'bytes' | 'family' | 'sourcePrefix'>;

interface Bucket {
  /** The bucket's octets, for telling apart two IPv6 buckets of one hash. */
  readonly hi: number;
  readonly lo: number;
  /** Undefined when the bucket is not uniform: its addresses are located one by one. */
  readonly facts: Facts | undefined;
  /** The facts' class number, or -1 when not uniform. */
  readonly classId: number;
}

/** The bucket number of `bytes[offset..]` (a /24 as 24 bits, a /56 as a hash of 56 bits). */
function v6Hash(hi: number, lo: number): number {
  let h = Math.imul(hi ^ 0x2545f491, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h ^ lo, 0x85ebca77);
  h ^= h >>> 13;
  return h >>> 0;
}

export class LocationMemo {
  private readonly v4 = new Map<number, Bucket>();
  private readonly v6 = new Map<number, Bucket>();
  private readonly resolvers = new Map<string, ClientPoint>();
  private readonly classes = new Map<string, number>();
  private nextClass = 1;

  constructor(
    readonly nets: NetMap,
    readonly geo: GeoLookup,
    readonly version: unknown,
  ) {}

  /** The location of a client, as gslb/location.ts `locate` gives it. */
  locate(input: ClientInput): Location {
    const point = clientPoint(input);
    const b = this.bucket(point.family, point.bytes, 0);
    if (b?.facts) return located(point, b.facts);
    const loc = locatePoint(point, this.nets, this.geo);
    if (!b) this.remember(loc);
    return loc;
  }

  /** Where a resolver without ECS is located: `clientPoint`'s answer, remembered per address text. */
  resolverPoint(address: string): ClientPoint {
    let point = this.resolvers.get(address);
    if (!point) {
      if (this.resolvers.size >= MEMO_BUCKETS) this.resolvers.clear();
      point = clientPoint({ clientAddress: address, ecs: undefined, useEcs: false });
      this.resolvers.set(address, point);
    }
    return point;
  }

  /**
   * The class of the facts every address of the bucket of `bytes[offset..]` has (4 or 16
   * octets by `family`), or -1 when unknown (not located yet) or not uniform.
   */
  classAt(family: 4 | 6, bytes: Uint8Array, offset: number): number {
    return this.bucket(family, bytes, offset)?.classId ?? -1;
  }

  /** The class of a location this memo gave, or -1 when its bucket is not uniform. */
  classOf(loc: Location): number {
    return this.classAt(loc.family, loc.bytes, 0);
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  private bucket(family: 4 | 6, bytes: Uint8Array, at: number): Bucket | undefined {
    if (family === 4) {
      const key =
        ((bytes[at] as number) << 16) |
        ((bytes[at + 1] as number) << 8) |
        (bytes[at + 2] as number);
      return this.v4.get(key);
    }
    const hi =
      (((bytes[at] as number) << 24) |
        ((bytes[at + 1] as number) << 16) |
        ((bytes[at + 2] as number) << 8) |
        (bytes[at + 3] as number)) >>>
      0;
    const lo =
      ((bytes[at + 4] as number) << 16) |
      ((bytes[at + 5] as number) << 8) |
      (bytes[at + 6] as number);
    const b = this.v6.get(v6Hash(hi, lo));
    return b && b.hi === hi && b.lo === lo ? b : undefined;
  }

  private remember(loc: Location): void {
    const bytes = loc.bytes;
    const limit = loc.family === 4 ? BUCKET_V4 : BUCKET_V6;
    // An IPv6 bucket in ::/80 holds the IPv4-mapped and -compatible addresses, which the
    // GeoIP reader may answer as IPv4 (prefixes in IPv4 terms): located one by one.
    const mapped = loc.family === 6 && bytes.subarray(0, 10).every((b) => b === 0);
    const uniform =
      !mapped && loc.net.scope <= limit && loc.geo.geoPrefix <= limit && loc.geo.asnPrefix <= limit;
    const facts: Facts | undefined = uniform
      ? {
          net: loc.net,
          geo: loc.geo,
          country: loc.country,
          continent: loc.continent,
          asn: loc.asn,
          lat: loc.lat,
          lon: loc.lon,
          coordsFrom: loc.coordsFrom,
          countryPrefix: loc.countryPrefix,
          continentPrefix: loc.continentPrefix,
          asnPrefix: loc.asnPrefix,
          coordPrefix: loc.coordPrefix,
        }
      : undefined;
    const classId = facts ? this.classFor(loc.family, facts) : -1;
    if (loc.family === 4) {
      if (this.v4.size >= MEMO_BUCKETS) this.v4.clear();
      const key = ((bytes[0] as number) << 16) | ((bytes[1] as number) << 8) | (bytes[2] as number);
      this.v4.set(key, { hi: key, lo: 0, facts, classId });
      return;
    }
    const hi =
      (((bytes[0] as number) << 24) |
        ((bytes[1] as number) << 16) |
        ((bytes[2] as number) << 8) |
        (bytes[3] as number)) >>>
      0;
    const lo = ((bytes[4] as number) << 16) | ((bytes[5] as number) << 8) | (bytes[6] as number);
    if (this.v6.size >= MEMO_BUCKETS) this.v6.clear();
    this.v6.set(v6Hash(hi, lo), { hi, lo, facts, classId });
  }

  /**
   * One number per distinct set of the facts a GSLB decision reads (gslb/decide.ts): the
   * map entry and its scope, the place, the ASN, the coordinates and every prefix.
   */
  private classFor(family: 4 | 6, f: Facts): number {
    const key = [
      family,
      f.net.entry?.cidr ?? '',
      f.net.scope,
      f.country ?? '',
      f.continent ?? '',
      f.asn ?? '',
      f.lat ?? '',
      f.lon ?? '',
      f.coordsFrom ?? '',
      f.countryPrefix,
      f.continentPrefix,
      f.asnPrefix,
      f.coordPrefix,
    ].join('|');
    let id = this.classes.get(key);
    if (id === undefined) {
      if (this.classes.size >= MAX_CLASSES) this.classes.clear();
      id = this.nextClass++;
      this.classes.set(key, id);
    }
    return id;
  }
}

function located(point: ClientPoint, facts: Facts): Location {
  return {
    source: point.source,
    address: point.text,
    bytes: point.bytes,
    family: point.family,
    sourcePrefix: point.sourcePrefix,
    ...facts,
  };
}

const memos = new WeakMap<NetMap, LocationMemo>();

/** The memo for CIDR map `nets` and the GeoIP data `geo` serves now. */
export function locationMemoFor(nets: NetMap, geo: GeoLookup): LocationMemo {
  const version = geo.version?.();
  let memo = memos.get(nets);
  if (!memo || memo.geo !== geo || memo.version !== version) {
    memo = new LocationMemo(nets, geo, version);
    memos.set(nets, memo);
  }
  return memo;
}
