// Online signing for one zone: RRSIGs over RRsets with every active key, computed once per
// content and reused (signature-cache.ts). Inception is backdated for clock skew;
// expiration is jittered per signature so re-signing spreads out rather than
// arriving all at once. A signature is reused while more than `refreshSec` of it is left.
import { randomInt } from 'node:crypto';
import type { ResourceRecord } from '../wire/record.js';
import type { SigningKey } from './algorithm.js';
import { labelCount, nameWire, rrsigRdata, rrsigRecord } from './records.js';
import type { CachedSignature, SignatureCache, SignatureStore } from './signature-cache.js';
import { RRType } from '../wire/constants.js';

export interface ActiveKey {
  readonly key: SigningKey;
  readonly tag: number;
}

export interface SigningPolicy {
  /** Seconds a new signature is valid from now (before jitter). */
  readonly validitySec: number;
  /** A cached signature is replaced once less than this is left of it. */
  readonly refreshSec: number;
  /** Inception this many seconds in the past (resolvers with slow clocks). */
  readonly inceptionOffsetSec: number;
  /** Up to this many seconds added to each signature's expiration at random. */
  readonly jitterSec: number;
}

export class ZoneSigner<C extends SignatureStore = SignatureCache> {
  signed = 0;
  /** The apex's canonical wire name: where compact-denial successors wrap (successor.ts). */
  readonly apexWire: Buffer;

  constructor(
    readonly zone: string,
    /** The keys that sign now (two during a double-signature rollover). */
    readonly keys: readonly ActiveKey[],
    readonly policy: SigningPolicy,
    readonly cache: C,
  ) {
    this.apexWire = nameWire(zone);
  }

  /** The same keys and policy, keeping signatures in `cache` (a transfer's own, say). */
  withCache<D extends SignatureStore>(cache: D): ZoneSigner<D> {
    return new ZoneSigner(this.zone, this.keys, this.policy, cache);
  }

  /**
   * The RRSIGs (one per active key) over the RRset `rdatas` of (owner, type), served with
   * `ttl` and signed with `originalTtl` (≥ ttl: answers whose TTL counts down to a health
   * bound keep one signature). `denial` files it in the cache's denial space.
   */
  sign(
    owner: string,
    type: number,
    ttl: number,
    originalTtl: number,
    rdatas: readonly Buffer[],
    nowSec: number,
    denial = false,
  ): ResourceRecord[] {
    const out: ResourceRecord[] = [];
    const content = contentKey(owner, type, originalTtl, rdatas);
    const usableUntil = nowSec + this.policy.refreshSec;
    for (const k of this.keys) {
      const cacheKey = signatureKey(k.tag, k.key.algorithm, content);
      let sig = this.cache.get(cacheKey, denial, usableUntil);
      if (!sig) {
        const jitter = this.policy.jitterSec > 0 ? randomInt(this.policy.jitterSec + 1) : 0;
        const expiration = nowSec + this.policy.validitySec + jitter;
        const rdata = rrsigRdata(
          k.key,
          {
            typeCovered: type,
            algorithm: k.key.algorithm,
            labels: labelCount(owner),
            originalTtl,
            expiration,
            inception: nowSec - this.policy.inceptionOffsetSec,
            keyTag: k.tag,
            signer: this.zone,
          },
          owner,
          rdatas,
        );
        this.signed++;
        sig = { rdata, expiration };
        this.cache.set(cacheKey, denial, sig);
      }
      out.push(rrsigRecord(owner, ttl, sig.rdata));
    }
    return out;
  }

  /**
   * The signatures by this signer's keys found in a signed zone's records, keyed as sign()
   * looks them up: what a signer reuses of a zone version signed before (by another
   * process, say). RRSIGs of other keys, or over RRsets not in `records`, are left out.
   */
  signaturesIn(records: readonly ResourceRecord[]): Map<string, CachedSignature> {
    const sets = new Map<string, Buffer[]>();
    for (const r of records) {
      if (r.type === RRType.RRSIG) continue;
      const k = `${r.name}|${r.type}`;
      const set = sets.get(k);
      if (set) set.push(r.rdata);
      else sets.set(k, [r.rdata]);
    }
    const ours = new Set(this.keys.map((k) => `${k.tag}/${k.key.algorithm}`));
    const out = new Map<string, CachedSignature>();
    for (const r of records) {
      if (r.type !== RRType.RRSIG || r.rdata.length < 18) continue;
      const covered = r.rdata.readUInt16BE(0);
      const algorithm = r.rdata[2] as number;
      const tag = r.rdata.readUInt16BE(16);
      if (!ours.has(`${tag}/${algorithm}`)) continue;
      const rdatas = sets.get(`${r.name}|${covered}`);
      if (!rdatas) continue;
      const content = contentKey(r.name, covered, r.rdata.readUInt32BE(4), rdatas);
      out.set(signatureKey(tag, algorithm, content), {
        rdata: r.rdata,
        expiration: r.rdata.readUInt32BE(8),
      });
    }
    return out;
  }

  /** The earliest expiration among the cached signatures of `records`' RRSIGs (seconds). */
  static expirationOf(rrsig: ResourceRecord): number {
    return rrsig.rdata.readUInt32BE(8);
  }
}

function signatureKey(tag: number, algorithm: number, content: string): string {
  return `${tag}/${algorithm}|${content}`;
}

/** The RRset's identity for the cache: owner, type, original TTL and sorted rdata. */
function contentKey(
  owner: string,
  type: number,
  originalTtl: number,
  rdatas: readonly Buffer[],
): string {
  let key = `${owner}|${type}|${originalTtl}`;
  if (rdatas.length === 1) {
    const only = rdatas[0] as Buffer;
    return key + '|' + only.length + ':' + only.toString('latin1');
  }
  const parts = rdatas.map((r) => r.toString('latin1')).sort();
  for (const p of parts) key += '|' + p.length + ':' + p;
  return key;
}
