// A resource record ready to answer with: owner and rdata already in final form, rdata
// as uncompressed wire bytes so answering never re-encodes it.
import { RRClass, typeName } from './constants.js';
import { fqdn } from '../lib/dnsname.js';
import { formatRdata } from './rdata.js';

export interface ResourceRecord {
  /** Lower-case owner, no trailing dot. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdata: Buffer;
}

export function rr(name: string, type: number, ttl: number, rdata: Buffer): ResourceRecord {
  return { name, type, class: RRClass.IN, ttl, rdata };
}

/** One line of RFC 1035 zone text, as dig prints it. */
export function formatRecord(r: ResourceRecord): string {
  const cls = r.class === RRClass.IN ? 'IN' : r.class === RRClass.CH ? 'CH' : `CLASS${r.class}`;
  return `${fqdn(r.name)}\t${r.ttl}\t${cls}\t${typeName(r.type)}\t${formatRdata(r.type, r.rdata)}`;
}
