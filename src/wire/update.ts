// Reads an RFC 2136 UPDATE message: the zone section, then the prerequisite and update
// sections as plain records (owner, type, class, TTL, rdata). Names inside the rdata of the
// RFC 1035 types that may compress them (NS, CNAME, PTR, MX, SOA; SRV too, which some
// clients compress against RFC 2782) are expanded, so rdata compares with the zone's bytes.
// Meaning is left to acme/update.ts and xfr/update.ts.
import { encodeName, readName as readWireName } from './name.js';
import { RRType } from './constants.js';

export interface UpdateRecord {
  /** Lower-case, no trailing dot. */
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Uncompressed: names inside it are written out in full, in lower case. */
  rdata: Buffer;
}

export interface UpdateMessage {
  zone: string;
  zoneType: number;
  zoneClass: number;
  prerequisites: UpdateRecord[];
  updates: UpdateRecord[];
}

export class MalformedUpdate extends Error {}

/** A possibly compressed name (RFC 1035 §4.1.4): nsupdate points back at the zone name. */
function readName(msg: Buffer, offset: number): { name: string; end: number } {
  try {
    return readWireName(msg, offset);
  } catch (err) {
    throw new MalformedUpdate((err as Error).message);
  }
}

/** Where names sit in the rdata of the types that may compress them: fixed octets before, after. */
const NAMED_RDATA = new Map<number, { before: number; names: number; after: number }>([
  [RRType.NS, { before: 0, names: 1, after: 0 }],
  [RRType.CNAME, { before: 0, names: 1, after: 0 }],
  [RRType.PTR, { before: 0, names: 1, after: 0 }],
  [RRType.MX, { before: 2, names: 1, after: 0 }],
  [RRType.SRV, { before: 6, names: 1, after: 0 }],
  [RRType.SOA, { before: 0, names: 2, after: 20 }],
]);

function expandRdata(msg: Buffer, type: number, start: number, length: number): Buffer {
  const raw = msg.subarray(start, start + length);
  const layout = NAMED_RDATA.get(type);
  // An empty rdata is a deletion or a prerequisite (RFC 2136 §2.4, §2.5): nothing to expand.
  if (!layout || length === 0) return raw;
  if (length < layout.before + layout.names + layout.after)
    throw new MalformedUpdate(`rdata of type ${type} is too short`);
  const parts: Buffer[] = [raw.subarray(0, layout.before)];
  let pos = start + layout.before;
  for (let i = 0; i < layout.names; i++) {
    const { name, end } = readName(msg, pos);
    if (end > start + length) throw new MalformedUpdate('a name runs past its rdata');
    parts.push(encodeName(name));
    pos = end;
  }
  if (pos + layout.after !== start + length)
    throw new MalformedUpdate(`rdata of type ${type} has the wrong length`);
  parts.push(msg.subarray(pos, pos + layout.after));
  return Buffer.concat(parts);
}

function readRecord(msg: Buffer, offset: number): { rr: UpdateRecord; end: number } {
  const { name, end } = readName(msg, offset);
  if (end + 10 > msg.length) throw new MalformedUpdate('record header runs past the end');
  const rdlength = msg.readUInt16BE(end + 8);
  const start = end + 10;
  if (start + rdlength > msg.length) throw new MalformedUpdate('rdata runs past the end');
  const type = msg.readUInt16BE(end);
  return {
    rr: {
      name,
      type,
      class: msg.readUInt16BE(end + 2),
      ttl: msg.readUInt32BE(end + 4),
      rdata: expandRdata(msg, type, start, rdlength),
    },
    end: start + rdlength,
  };
}

export function parseUpdate(msg: Buffer): UpdateMessage {
  if (msg.length < 12) throw new MalformedUpdate('shorter than a header');
  const zocount = msg.readUInt16BE(4);
  const prcount = msg.readUInt16BE(6);
  const upcount = msg.readUInt16BE(8);
  // RFC 2136 §3.1.1: exactly one zone.
  if (zocount !== 1) throw new MalformedUpdate(`ZOCOUNT is ${zocount}`);
  const zone = readName(msg, 12);
  if (zone.end + 4 > msg.length) throw new MalformedUpdate('zone section runs past the end');
  let pos = zone.end + 4;
  const section = (n: number): UpdateRecord[] => {
    const out: UpdateRecord[] = [];
    for (let i = 0; i < n; i++) {
      const { rr, end } = readRecord(msg, pos);
      out.push(rr);
      pos = end;
    }
    return out;
  };
  const prerequisites = section(prcount);
  const updates = section(upcount);
  return {
    zone: zone.name,
    zoneType: msg.readUInt16BE(zone.end),
    zoneClass: msg.readUInt16BE(zone.end + 2),
    prerequisites,
    updates,
  };
}

/** TXT rdata (RFC 1035 §3.3.14) as one string: its character-strings joined. */
export function txtValue(rdata: Buffer): string {
  const parts: string[] = [];
  let i = 0;
  while (i < rdata.length) {
    const len = rdata[i] as number;
    if (i + 1 + len > rdata.length) throw new MalformedUpdate('TXT string runs past the rdata');
    parts.push(rdata.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return parts.join('');
}
