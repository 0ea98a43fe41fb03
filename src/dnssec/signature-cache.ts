// Signatures remembered by what they cover: one RRSIG per (key, owner, type, original TTL,
// RRset content), reused until it nears its expiration, so the few distinct RRsets the
// GSLB hands out cost one signature each rather than one per query. Two bounded spaces:
// denial proofs (an NSEC per nonexistent name a random-name flood asks) are kept apart,
// so they never push out the signatures hot answers reuse. Oldest entries go first.

export interface CachedSignature {
  readonly rdata: Buffer;
  /** RRSIG expiration, seconds since the epoch. */
  readonly expiration: number;
}

export class SignatureCache {
  private readonly answers = new Map<string, CachedSignature>();
  private readonly denials = new Map<string, CachedSignature>();
  hits = 0;
  misses = 0;
  /** Signatures stored: every signature the signer computes is stored once. */
  added = 0;

  constructor(
    readonly maxEntries: number,
    /** The share of maxEntries the denial space may take. */
    readonly denialShare = 0.1,
  ) {}

  /** A signature usable until at least `usableUntil` (seconds), or undefined. */
  get(key: string, denial: boolean, usableUntil: number): CachedSignature | undefined {
    const hit = (denial ? this.denials : this.answers).get(key);
    if (hit && hit.expiration > usableUntil) {
      this.hits++;
      return hit;
    }
    this.misses++;
    return undefined;
  }

  set(key: string, denial: boolean, sig: CachedSignature): void {
    const space = denial ? this.denials : this.answers;
    const cap = Math.max(
      1,
      Math.floor(
        denial ? this.maxEntries * this.denialShare : this.maxEntries * (1 - this.denialShare),
      ),
    );
    space.delete(key);
    while (space.size >= cap) {
      const oldest = space.keys().next().value as string;
      space.delete(oldest);
    }
    space.set(key, sig);
    this.added++;
  }

  get size(): number {
    return this.answers.size + this.denials.size;
  }

  /** Approximate bytes held (keys as UTF-16, signatures, per-entry overhead). */
  get bytes(): number {
    let n = 0;
    for (const space of [this.answers, this.denials])
      for (const [k, v] of space) n += 2 * k.length + v.rdata.length + 120;
    return n;
  }
}
