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

/** Where a ZoneSigner finds and keeps signatures. */
export interface SignatureStore {
  /** A signature usable until at least `usableUntil` (seconds), or undefined. */
  get(key: string, denial: boolean, usableUntil: number): CachedSignature | undefined;
  set(key: string, denial: boolean, sig: CachedSignature): void;
}

/** Bytes per entry beyond its key and signature, measured (about 575 at 200,000 entries). */
const ENTRY_OVERHEAD = 575;

export class SignatureCache implements SignatureStore {
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

  /**
   * Approximate bytes held: keys as UTF-16, signatures, and a per-entry overhead (the Map's
   * slots, the entry and Buffer objects) calibrated on bench/dnssec-memory.ts's heap growth.
   */
  get bytes(): number {
    let n = 0;
    for (const space of [this.answers, this.denials])
      for (const [k, v] of space) n += 2 * k.length + v.rdata.length + ENTRY_OVERHEAD;
    return n;
  }
}

/**
 * The signatures of one signed zone version (a transfer's view), with those of the last
 * version signed before it to reuse: an RRset unchanged since then keeps its RRSIG while it
 * is fresh enough, so consecutive versions differ only where content or due re-signing
 * does (IXFR stays small). Unbounded but holds exactly two versions' signatures: the
 * previous generation is dropped once this one is signed (`seal`).
 */
export class ZoneSignatures implements SignatureStore {
  private readonly current = new Map<string, CachedSignature>();
  private previous: ReadonlyMap<string, CachedSignature> | undefined;
  private sealed = false;

  /** `before`: the version built before this one (its signatures, or the ones it inherited). */
  constructor(before?: ZoneSignatures) {
    this.previous = before?.latest();
  }

  /** A fresh enough signature of this version or the previous one (then kept in this one). */
  get(key: string, _denial: boolean, usableUntil: number): CachedSignature | undefined {
    const own = this.current.get(key);
    if (own) return own.expiration > usableUntil ? own : undefined;
    const inherited = this.previous?.get(key);
    if (!inherited || inherited.expiration <= usableUntil) return undefined;
    this.current.set(key, inherited);
    return inherited;
  }

  set(key: string, _denial: boolean, sig: CachedSignature): void {
    this.current.set(key, sig);
  }

  /** True when there are earlier signatures to reuse (a previous version's or adopted ones). */
  get inherits(): boolean {
    return this.sealed || this.previous !== undefined;
  }

  /**
   * Takes `signatures` (read back from a stored version, ZoneSigner.signaturesIn) as the
   * previous generation, when there is none: a restarted process keeps the signatures its
   * secondaries hold instead of re-signing the whole zone into one large IXFR.
   */
  adopt(signatures: ReadonlyMap<string, CachedSignature>): void {
    if (!this.inherits) this.previous = signatures;
  }

  /** This version is signed: the previous generation's signatures are no longer needed. */
  seal(): void {
    this.sealed = true;
    this.previous = undefined;
  }

  /** The signatures a next version starts from: this one's once signed, else the inherited. */
  private latest(): ReadonlyMap<string, CachedSignature> | undefined {
    return this.sealed ? this.current : this.previous;
  }

  get size(): number {
    return this.current.size;
  }
}
