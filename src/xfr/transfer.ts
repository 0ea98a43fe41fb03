// Serves AXFR (RFC 5936) and IXFR (RFC 1995) of the base zone from one snapshot: checks
// the transfer ACL against the TSIG key the handler verified (RFC 8945), then answers the
// whole zone, the journal's differences, or the single current SOA. Every message is
// signed when the request was.
// What goes into the zone is snapshot/export.ts's business; the journal is the master's.
import { Opcode, RRType, Rcode } from '../wire/constants.js';
import type { ExchangeHandler, Signer } from '../pipeline/exchange.js';
import type { Query } from '../wire/decode.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Logger } from '../lib/logger.js';
import type { ResourceRecord } from '../wire/record.js';
import { exportRecordsCooperatively } from '../snapshot/export.js';
import { serialGt } from '../snapshot/serial.js';
import { journalPath, recordFromKey, type JournalEntry, type ZoneVersion } from './journal.js';
import type { Peers } from './peers.js';
import { TsigStream, signReply, type TsigKey } from '../wire/tsig.js';
import {
  bareReply,
  soaSerialIn,
  transferMessages,
  type TransferRequest,
} from '../wire/transfer.js';
import type { XfrMetrics } from './metrics.js';

/** How a transfer was answered, for the status API and metrics. */
export type TransferKind = 'axfr' | 'ixfr' | 'ixfr-full' | 'ixfr-current' | 'ixfr-udp';

export interface TransferRecord {
  address: string;
  kind: TransferKind;
  serial: number;
  messages: number;
  records: number;
  key: string | null;
}

export interface TransferDeps {
  snapshot: () => Snapshot;
  peers: () => Peers;
  loadJournal: (zone: string) => Promise<JournalEntry[]>;
  /** The journal's stored zone version (the one its differences continue from). */
  loadVersion: (zone: string) => Promise<ZoneVersion | null>;
  onTransfer: (t: TransferRecord) => void;
  metrics: XfrMetrics;
  logger: Logger;
}

function requestOf(query: Query, msg: Buffer): TransferRequest {
  return {
    id: msg.readUInt16BE(0),
    question: query.question,
    qname: query.qname,
    recursionDesired: query.recursionDesired,
  };
}

/** The zone as secondaries receive it, SOA apart: static records and base-name picks. */
async function zoneBody(snapshot: Snapshot): Promise<ResourceRecord[]> {
  return (await exportRecordsCooperatively(snapshot)).filter((r) => r.type !== RRType.SOA);
}

/**
 * The body of a full transfer. A signed zone's signatures differ between instances of an NS
 * set and between runs of one (ECDSA is randomised, signing time and jitter differ), so
 * when the journal holds this serial its stored version is sent: the IXFR differences that
 * follow start from exactly those records. Unsigned exports are the same everywhere.
 */
async function fullBody(deps: TransferDeps, snapshot: Snapshot): Promise<ResourceRecord[]> {
  if (snapshot.signer) {
    const stored = await deps.loadVersion(snapshot.zone.name).catch(() => null);
    if (stored && stored.serial === snapshot.serial) return stored.records.map(recordFromKey);
  }
  return zoneBody(snapshot);
}

/** RFC 1995 §4: SOA(new), then per step old SOA, deletions, new SOA, additions; SOA(new). */
function incremental(soa: ResourceRecord, path: readonly JournalEntry[]): ResourceRecord[] {
  const out = [soa];
  for (const e of path) {
    out.push(recordFromKey(e.fromSoa));
    for (const k of e.removed) out.push(recordFromKey(k));
    out.push(recordFromKey(e.toSoa));
    for (const k of e.added) out.push(recordFromKey(k));
  }
  out.push(soa);
  return out;
}

export function transferExchange(deps: TransferDeps): ExchangeHandler {
  return (query, msg, signer) => {
    if (query.opcode !== Opcode.QUERY) return undefined;
    if (query.qtype !== RRType.AXFR && query.qtype !== RRType.IXFR) return undefined;
    return answer(deps, query, msg, signer);
  };
}

async function answer(
  deps: TransferDeps,
  query: Query,
  msg: Buffer,
  signer: Signer | undefined,
): Promise<Buffer[]> {
  const kindAsked = query.qtype === RRType.AXFR ? 'axfr' : 'ixfr';
  const req = requestOf(query, msg);
  const refuse = (rcode: number, why: string, key?: TsigKey, mac?: Buffer): Buffer[] => {
    deps.metrics.requests.inc({ kind: kindAsked, result: why });
    deps.logger.info(
      { client: query.clientAddress, qname: query.qname, kind: kindAsked, why },
      'transfer refused',
    );
    const reply = bareReply(req, Opcode.QUERY, rcode);
    return [key && mac ? signReply(reply, { key, requestMac: mac }) : reply];
  };

  // The handler verified the signature (a bad one never gets here).
  const key = signer?.key;
  const mac = signer?.mac;
  // RFC 5936 §4.2: AXFR is TCP only, whoever asks.
  if (query.transport === 'udp' && query.qtype === RRType.AXFR)
    return refuse(Rcode.FORMERR, 'formerr', key, mac);
  const snapshot = deps.snapshot();
  if (query.qname !== snapshot.zone.name) return refuse(Rcode.NOTAUTH, 'notauth', key, mac);
  if (!deps.peers().mayTransfer(query.clientAddress, key?.name))
    return refuse(Rcode.REFUSED, 'refused', key, mac);

  const soa = snapshot.zone.soa;
  let records: ResourceRecord[];
  let kind: TransferKind;
  if (query.qtype === RRType.AXFR) {
    records = [soa, ...(await fullBody(deps, snapshot)), soa];
    kind = 'axfr';
  } else {
    let clientSerial: number | undefined;
    try {
      clientSerial = soaSerialIn(msg, 'authority');
    } catch {
      clientSerial = undefined;
    }
    // RFC 1995 §3: the authority section carries the client's SOA.
    if (clientSerial === undefined) return refuse(Rcode.FORMERR, 'formerr', key, mac);
    if (!serialGt(snapshot.serial, clientSerial)) {
      records = [soa];
      kind = 'ixfr-current';
    } else if (query.transport === 'udp') {
      // RFC 1995 §2: a reply that does not fit a datagram is the single SOA; go to TCP.
      records = [soa];
      kind = 'ixfr-udp';
    } else {
      const path = journalPath(
        await deps.loadJournal(snapshot.zone.name),
        clientSerial,
        snapshot.serial,
      );
      if (path) {
        records = incremental(soa, path);
        kind = 'ixfr';
      } else {
        // RFC 1995 §4: older than the journal: the whole zone, in IXFR form.
        records = [soa, ...(await fullBody(deps, snapshot)), soa];
        kind = 'ixfr-full';
      }
    }
  }
  let messages = transferMessages(req, records);
  if (key && mac) {
    const stream = new TsigStream(key, mac);
    messages = messages.map((m) => stream.sign(m));
  }
  deps.metrics.requests.inc({ kind, result: 'ok' });
  deps.onTransfer({
    address: query.clientAddress,
    kind,
    serial: snapshot.serial,
    messages: messages.length,
    records: records.length,
    key: key?.name ?? null,
  });
  deps.logger.info(
    {
      client: query.clientAddress,
      kind,
      serial: snapshot.serial,
      messages: messages.length,
      records: records.length,
      key: key?.name,
    },
    'zone transfer',
  );
  return messages;
}
