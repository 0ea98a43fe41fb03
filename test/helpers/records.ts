// Records as zone-file text, so unit cases read like dig output.
import { parseZoneText } from '../../src/zone/parse.js';
import { formatRecord, type ResourceRecord } from '../../src/wire/record.js';
import { ZoneData } from '../../src/zone/zone-data.js';

export const ORIGIN = 'example.org';
export const SOA_TEXT =
  '@ 3600 IN SOA ns1.example.org. hostmaster.example.org. 7 3600 600 1209600 300';

export function records(text: string, origin = ORIGIN): ResourceRecord[] {
  return parseZoneText(text, { origin, defaultTtl: 3600 });
}

/** A zone with a SOA (TTL 3600, minimum 300) plus the given records. */
export function zone(text: string, origin = ORIGIN): ZoneData {
  const [soa] = records(SOA_TEXT, origin);
  return new ZoneData(origin, soa as ResourceRecord, records(text, origin));
}

/** One whitespace-normalised line per record, as `dig +noall +answer` prints them. */
export function lines(rs: readonly ResourceRecord[]): string[] {
  return rs.map((r) => formatRecord(r).replace(/\s+/g, ' '));
}
