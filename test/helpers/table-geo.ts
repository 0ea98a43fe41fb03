// A GeoLookup over an in-memory table, for unit tests of the GSLB policy: the same contract
// as the .mmdb reader (longest matching network wins, prefix lengths reported), without files.
import type { GeoLookup, GeoRecord } from '../../src/geo/geo-record.js';
import { maskBytes, parseCidr } from '../../src/lib/cidr.js';
import { ipFamily, ipv4ToBytes, ipv6ToBytes } from '../../src/lib/ip.js';

export interface GeoRow extends Omit<GeoRecord, 'geoPrefix' | 'asnPrefix'> {
  cidr: string;
}

/** Depth reported for addresses no row covers, as an .mmdb tree reports its empty leaves. */
export const UNKNOWN_PREFIX = 16;

export function tableGeo(rows: readonly GeoRow[]): GeoLookup {
  const parsed = rows
    .map((r) => ({ row: r, cidr: parseCidr(r.cidr) }))
    .sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  return {
    lookup(ip: string): GeoRecord {
      const family = ipFamily(ip);
      if (!family) return { geoPrefix: 0, asnPrefix: 0 };
      const bytes = family === 4 ? ipv4ToBytes(ip) : ipv6ToBytes(ip);
      const hit = parsed.find(
        (p) => p.cidr.family === family && maskBytes(bytes, p.cidr.prefix).equals(p.cidr.bytes),
      );
      if (!hit) return { geoPrefix: UNKNOWN_PREFIX, asnPrefix: UNKNOWN_PREFIX };
      const { cidr: _cidr, ...fields } = hit.row;
      return { ...fields, geoPrefix: hit.cidr.prefix, asnPrefix: hit.cidr.prefix };
    },
  };
}
