// Reads an RFC 2136 UPDATE message: the zone section, then the prerequisite and update
// sections as plain records (owner, type, class, TTL, rdata). Meaning is left to acme/update.ts.
import { readName as readWireName } from './name.js';

export interface UpdateRecord {
  /** Lower-case, no trailing dot. */
  name: string;
  type: number;
  class: number;
  ttl: number;
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

function readRecord(msg: Buffer, offset: number): { rr: UpdateRecord; end: number } {
  const { name, end } = readName(msg, offset);
  if (end + 10 > msg.length) throw new MalformedUpdate('record header runs past the end');
  const rdlength = msg.readUInt16BE(end + 8);
  const start = end + 10;
  if (start + rdlength > msg.length) throw new MalformedUpdate('rdata runs past the end');
  return {
    rr: {
      name,
      type: msg.readUInt16BE(end),
      class: msg.readUInt16BE(end + 2),
      ttl: msg.readUInt32BE(end + 4),
      rdata: msg.subarray(start, start + rdlength),
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
