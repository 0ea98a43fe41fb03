// What the GSLB engine needs from a GeoIP source: a synchronous lookup (the hot path
// never awaits) that also says how far the answer reaches, which is what the ECS scope
// of an answer is computed from (RFC 7871 §7.2.1).

export interface GeoRecord {
  /** ISO 3166-1 alpha-2, upper case. */
  country?: string;
  /** GeoIP continent code: AF AN AS EU NA OC SA. */
  continent?: string;
  lat?: number;
  lon?: number;
  asn?: number;
  asOrg?: string;
  /**
   * Prefix lengths, in the address's own family (0–32 for IPv4, 0–128 for IPv6), over
   * which the location fields (country, continent, coordinates) and the ASN stay the
   * same: the depth of the database record that answered, also when nothing was found.
   * 0 when no database is loaded.
   */
  geoPrefix: number;
  asnPrefix: number;
}

export interface GeoLookup {
  /** `ip` is IPv4 or IPv6 text. Never throws: unknown or unparsable addresses give an empty record. */
  lookup(ip: string): GeoRecord;
  /**
   * Changes (by identity) whenever the data behind lookup() changes, so answers cached
   * with the old data are dropped. Absent: the data never changes.
   */
  version?(): unknown;
}

/** The lookup used when no database is configured: nothing is known, nothing depends on the client. */
export const NO_GEO: GeoLookup = { lookup: () => ({ geoPrefix: 0, asnPrefix: 0 }) };
