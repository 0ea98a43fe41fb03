// End step 1b: DNSSEC for a query with the DO bit, in a signed zone (RFC 4035 §3.1).
// Every authoritative RRset gets its RRSIGs (from the signature cache: computed once per
// content). Denial is compact (RFC 9824): a name that does not exist is answered NOERROR
// with one NSEC at the name whose next owner is its immediate successor and whose bitmap
// holds NXNAME; NODATA gets the same kind of NSEC listing the types the name has. A
// wildcard answer is signed as the name asked (it then needs no proof). A referral proves
// the absence of DS with an NSEC at the cut, or carries the signed DS. Glue and the NS set
// of a delegation are not authoritative and stay unsigned.
import { RRType, Rcode } from '../wire/constants.js';
import type { Response } from '../wire/encode.js';
import type { ResourceRecord } from '../wire/record.js';
import { decodeName } from '../wire/name.js';
import { isSubdomainOf, parentName } from '../lib/dnsname.js';
import { nameWire, nsecRdata, NXNAME } from '../dnssec/records.js';
import { successorWire } from '../dnssec/successor.js';
import type { ZoneSigner } from '../dnssec/signer.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { ZoneData } from '../zone/zone-data.js';
import { findCut } from '../zone/lookup.js';
import type { Outcome } from './outcome.js';

const DENIAL_TYPES = [RRType.RRSIG, RRType.NSEC];

/** `response` signed for `qname`/`qtype`, the outcome it came from telling what it denies. */
export function signResponse(
  outcome: Outcome,
  response: Response,
  qname: string,
  qtype: number,
  snapshot: Snapshot,
  signer: ZoneSigner,
  nowSec: number,
): Response {
  const zone = snapshot.zone;
  if (response.rcode !== Rcode.NOERROR && response.rcode !== Rcode.NXDOMAIN) return response;
  if (!isSubdomainOf(qname, zone.name)) return response;
  const s = new Signing(zone, snapshot, signer, nowSec);
  if (outcome.kind === 'nxdomain' || outcome.kind === 'nodata') {
    const chain = s.section(response.answer);
    const denied = deniedName(qname, outcome.chain);
    const soa = response.authority[0];
    const ttl = soa ? soa.ttl : zone.negativeTtl;
    const types = outcome.kind === 'nxdomain' ? [NXNAME] : typesAt(snapshot, denied, qtype);
    const nsec = s.nsec(denied, ttl, types);
    // An NSEC query is answered with the record that the denial would carry.
    if (qtype === RRType.NSEC && denied === qname)
      return { ...response, rcode: Rcode.NOERROR, answer: [...chain, ...nsec], authority: [] };
    return {
      ...response,
      rcode: Rcode.NOERROR,
      answer: chain,
      authority: [...s.section(response.authority), ...nsec],
    };
  }
  if (outcome.kind !== 'answer') return response;
  if (!response.authoritative) {
    // A referral: the NS set and glue unsigned, DS (or its absence) proven.
    const cut = response.authority.find((r) => r.type === RRType.NS)?.name;
    if (cut === undefined) return response;
    const ds = zone.rrsets(cut).get(RRType.DS);
    const ttl = zone.negativeTtl;
    const proof = ds
      ? [...ds, ...s.rrset(ds)]
      : s.nsec(cut, ttl, typesAt(snapshot, cut, RRType.DS));
    return {
      ...response,
      answer: s.section(response.answer),
      authority: [...response.authority, ...proof],
    };
  }
  return {
    ...response,
    answer: s.section(response.answer),
    authority: s.section(response.authority),
    additional: s.section(response.additional),
  };
}

/** The name a negative answer denies: the last CNAME target of the chain, else the qname. */
function deniedName(qname: string, chain: readonly ResourceRecord[]): string {
  const last = chain[chain.length - 1];
  return last && last.type === RRType.CNAME ? decodeName(last.rdata, 0).name : qname;
}

/** The types `name` has (a base name: A and AAAA; a wildcard's when one applies), less qtype. */
function typesAt(snapshot: Snapshot, name: string, qtype: number): number[] {
  const zone = snapshot.zone;
  let types: number[] = [];
  if (snapshot.plans.has(name)) types = [RRType.A, RRType.AAAA];
  else if (zone.has(name)) types = [...zone.rrsets(name).keys()];
  else {
    let encloser = parentName(name);
    while (!zone.has(encloser) && !snapshot.plans.has(encloser) && encloser !== zone.name)
      encloser = parentName(encloser);
    const wild = `*.${encloser}`;
    if (zone.has(wild)) types = [...zone.rrsets(wild).keys()];
  }
  return types.filter((t) => t !== qtype);
}

/** One response's signing: RRSIGs after each authoritative RRset, NSECs for denial. */
class Signing {
  constructor(
    private readonly zone: ZoneData,
    private readonly snapshot: Snapshot,
    private readonly signer: ZoneSigner,
    private readonly nowSec: number,
  ) {}

  /** The section with each authoritative RRset followed by its RRSIGs. */
  section(records: readonly ResourceRecord[]): ResourceRecord[] {
    if (records.length === 0) return [];
    const out: ResourceRecord[] = [];
    let i = 0;
    while (i < records.length) {
      const first = records[i] as ResourceRecord;
      let j = i + 1;
      while (
        j < records.length &&
        (records[j] as ResourceRecord).name === first.name &&
        (records[j] as ResourceRecord).type === first.type
      )
        j++;
      const set = records.slice(i, j);
      out.push(...set);
      if (this.authoritative(first.name, first.type)) out.push(...this.rrset(set));
      i = j;
    }
    return out;
  }

  /** RRSIGs over one RRset (records of one owner and type). */
  rrset(set: readonly ResourceRecord[]): ResourceRecord[] {
    const first = set[0] as ResourceRecord;
    return this.signer.sign(
      first.name,
      first.type,
      first.ttl,
      this.originalTtl(first),
      set.map((r) => r.rdata),
      this.nowSec,
    );
  }

  /** The compact-denial NSEC at `owner` listing `types`, with its RRSIGs. */
  nsec(owner: string, ttl: number, types: readonly number[]): ResourceRecord[] {
    const rdata = nsecRdata(successorWire(nameWire(owner), this.signer.apexWire), [
      ...types,
      ...DENIAL_TYPES,
    ]);
    const record: ResourceRecord = {
      name: owner,
      type: RRType.NSEC,
      class: 1,
      ttl,
      rdata,
    };
    const sigs = this.signer.sign(owner, RRType.NSEC, ttl, ttl, [rdata], this.nowSec, true);
    return [record, ...sigs];
  }

  /** In the zone and above every cut (the NS set at a cut and what is below are the child's). */
  private authoritative(name: string, type: number): boolean {
    if (type === RRType.RRSIG || !isSubdomainOf(name, this.zone.name)) return false;
    const cut = findCut(this.zone, name);
    // At a cut only the DS is the parent's (RFC 4035 §2.2).
    return cut === undefined || (cut === name && type === RRType.DS);
  }

  /**
   * The TTL a signature covers: a base name's answers count down to health bounds, so
   * they are signed with the plan's full TTL (RFC 4035 §5.3.3: served TTLs may be lower);
   * the SOA with its own TTL, whatever TTL it is served with.
   */
  private originalTtl(r: ResourceRecord): number {
    // A negative answer's SOA is served with the negative TTL (RFC 2308 §3).
    if (r.type === RRType.SOA) return Math.max(r.ttl, this.zone.soa.ttl);
    const plan = this.snapshot.plans.get(r.name);
    if (!plan) return r.ttl;
    return Math.max(r.ttl, plan.ttl, plan.failoverTtl);
  }
}
