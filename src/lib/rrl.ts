// Response rate limiting in the manner of NSD's and Knot's RRL: one token bucket per
// (client prefix, response class, name), `rate` responses a second with a burst of one
// second's worth; a limited response is dropped, except every `slip`-th, which goes out
// truncated (TC=1) so a real resolver retries over TCP. The table has a fixed number of
// slots whatever the number of clients. Which responses are exempt (TCP, a valid server
// cookie, allow-listed networks) and how a slip is encoded is the caller's.
import { randomInt } from 'node:crypto';
import { clientAddressBytes } from './client-address.js';

/**
 * Response classes, each limited separately (NSD `rrl.c`, Knot `rrl.c`): answers and
 * empty answers per owner name, NXDOMAIN per zone (a random-subdomain flood spends one
 * bucket, not one per name), errors per client prefix alone.
 */
export const RrlClass = { answer: 0, noData: 1, nxDomain: 2, error: 3 } as const;
export type RrlClass = (typeof RrlClass)[keyof typeof RrlClass];
export const RRL_CLASS_NAMES = ['answer', 'nodata', 'nxdomain', 'error'] as const;

export type RrlVerdict = 'pass' | 'slip' | 'drop';

/**
 * The class of a response from its RCODE and answer count: NXDOMAIN (3), other errors,
 * an empty NOERROR (NODATA, a referral), or an answer. The caller picks the name hash
 * that goes with it: the owner name for answers and NODATA, the zone for NXDOMAIN.
 */
export function rrlClassOf(rcode: number, answerCount: number): RrlClass {
  if (rcode === 3) return RrlClass.nxDomain;
  if (rcode !== 0) return RrlClass.error;
  return answerCount > 0 ? RrlClass.answer : RrlClass.noData;
}

export interface RrlConfig {
  /** Responses a second per bucket, and its burst; 0 turns limiting off. NSD's default: 200. */
  readonly rate: number;
  /**
   * Every `slip`-th limited response is sent truncated; 0 drops them all, 1 slips them all.
   * NSD's default: 2.
   */
  readonly slip: number;
  /** Client prefix length for IPv4 (default /24) and IPv6 (default /56). */
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
  /** Buckets kept, rounded up to a power of two: the memory bound (about 24 bytes each). */
  readonly slots: number;
}

export const RRL_DEFAULTS: RrlConfig = {
  rate: 200,
  slip: 2,
  ipv4Prefix: 24,
  ipv6Prefix: 56,
  slots: 1 << 17,
};

/** Buckets looked at for one key: the key's slot and the next WAYS − 1 (one cache line). */
const WAYS = 4;

export interface RrlCounters {
  /** Responses that went out as usual. */
  passed: number;
  /** Limited responses, per class (index: RrlClass), sent truncated or dropped. */
  readonly slipped: number[];
  readonly dropped: number[];
}

/** 32-bit FNV-1a of a (lowercased) name: the `name` key of answer and NXDOMAIN buckets. */
export function rrlNameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The murmur3 finaliser: spreads every input bit over the 32-bit result. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function validateRrlConfig(config: RrlConfig): void {
  const int = (v: number, lo: number, hi: number, what: string) => {
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new RangeError(`rrl ${what} must be an integer from ${lo} to ${hi}, not ${v}`);
  };
  int(config.rate, 0, 1_000_000, 'rate');
  int(config.slip, 0, 100, 'slip');
  int(config.ipv4Prefix, 0, 32, 'ipv4Prefix');
  int(config.ipv6Prefix, 0, 128, 'ipv6Prefix');
  int(config.slots, WAYS, 1 << 24, 'slots');
}

/**
 * The bucket table. Each slot holds a key fingerprint, its tokens, the time they were
 * counted and its slip counter, in typed arrays allocated once. A key lives in one of the
 * WAYS slots from its hash; a new key takes a free slot, else one whose bucket is full
 * again (it would pass its next response anyway, so forgetting it changes nothing), else
 * the one least recently used. A flood of spoofed prefixes therefore churns idle and
 * full buckets before it can reset one that is limiting someone.
 */
export class ResponseRateLimiter {
  readonly config: RrlConfig;
  readonly counters: RrlCounters = {
    passed: 0,
    slipped: [0, 0, 0, 0],
    dropped: [0, 0, 0, 0],
  };
  private readonly mask: number;
  /** Fingerprint of the key in each slot; 0 marks a free slot. */
  private readonly keys: Uint32Array;
  private readonly tokens: Float64Array;
  private readonly stamps: Float64Array;
  private readonly slips: Uint32Array;
  private readonly seed: number;
  private readonly v4Mask: number;
  private readonly v6Masks: Uint32Array;
  private readonly scratch = Buffer.alloc(16);

  constructor(config: Partial<RrlConfig> = {}, seed = randomInt(0, 0xffffffff)) {
    this.config = { ...RRL_DEFAULTS, ...config };
    validateRrlConfig(this.config);
    let slots = WAYS;
    while (slots < this.config.slots) slots *= 2;
    this.mask = slots - 1;
    this.keys = new Uint32Array(slots + WAYS);
    this.tokens = new Float64Array(slots + WAYS);
    this.stamps = new Float64Array(slots + WAYS);
    this.slips = new Uint32Array(slots + WAYS);
    // A per-table seed: which prefixes share slots cannot be worked out from outside.
    this.seed = seed >>> 0;
    const bits = (n: number) =>
      n <= 0 ? 0 : n >= 32 ? 0xffffffff : (0xffffffff << (32 - n)) >>> 0;
    this.v4Mask = bits(this.config.ipv4Prefix);
    this.v6Masks = new Uint32Array(4);
    for (let i = 0; i < 4; i++) this.v6Masks[i] = bits(this.config.ipv6Prefix - 32 * i);
  }

  get enabled(): boolean {
    return this.config.rate > 0;
  }

  /** Slots in the table: fixed at construction. */
  get capacity(): number {
    return this.keys.length;
  }

  /** Bytes the table's arrays hold: fixed at construction. */
  get tableBytes(): number {
    return (
      this.keys.byteLength + this.tokens.byteLength + this.stamps.byteLength + this.slips.byteLength
    );
  }

  /** `check` for an address as text (IPv4, IPv6, IPv4-mapped); an unreadable one passes. */
  checkAddress(address: string, cls: RrlClass, name: number, nowMs: number): RrlVerdict {
    const n = clientAddressBytes(address, this.scratch);
    if (n === 0) {
      this.counters.passed++;
      return 'pass';
    }
    return this.check(this.scratch.subarray(0, n), cls, name, nowMs);
  }

  /**
   * Spends one token of the bucket for (the prefix of `address` (4 or 16 octets), `cls`,
   * `name`) at `nowMs` (a monotonic clock in milliseconds). `name` is the owner name's
   * hash for answers and NODATA, the zone's for NXDOMAIN, 0 for errors.
   */
  check(address: Uint8Array, cls: RrlClass, name: number, nowMs: number): RrlVerdict {
    const rate = this.config.rate;
    if (rate === 0) {
      this.counters.passed++;
      return 'pass';
    }
    const h = this.hashKey(address, cls, name);
    const fingerprint = (mix(h ^ 0x9e3779b9) | 1) >>> 0;
    const base = h & this.mask;
    let slot = -1;
    let victim = base;
    let victimScore = Infinity;
    for (let i = base; i < base + WAYS; i++) {
      const key = this.keys[i] as number;
      if (key === fingerprint) {
        slot = i;
        break;
      }
      // Free slots first, then buckets full again, then the least recently used.
      const score =
        key === 0 ? -2 : this.refilled(i, nowMs) >= rate ? -1 : (this.stamps[i] as number);
      if (score < victimScore) {
        victimScore = score;
        victim = i;
      }
    }
    let tokens: number;
    if (slot < 0) {
      slot = victim;
      this.keys[slot] = fingerprint;
      this.slips[slot] = 0;
      tokens = rate;
    } else tokens = this.refilled(slot, nowMs);
    this.stamps[slot] = nowMs;
    if (tokens >= 1) {
      this.tokens[slot] = tokens - 1;
      this.counters.passed++;
      return 'pass';
    }
    this.tokens[slot] = tokens;
    const slip = this.config.slip;
    const n = ((this.slips[slot] as number) + 1) >>> 0;
    this.slips[slot] = n;
    if (slip > 0 && n % slip === 0) {
      this.counters.slipped[cls] = (this.counters.slipped[cls] as number) + 1;
      return 'slip';
    }
    this.counters.dropped[cls] = (this.counters.dropped[cls] as number) + 1;
    return 'drop';
  }

  /** The tokens slot `i` holds at `nowMs`: its count plus the refill since, capped at the burst. */
  private refilled(i: number, nowMs: number): number {
    const rate = this.config.rate;
    const elapsed = nowMs - (this.stamps[i] as number);
    // A clock that went backwards refills nothing.
    const t = (this.tokens[i] as number) + (elapsed > 0 ? (elapsed * rate) / 1000 : 0);
    return t > rate ? rate : t;
  }

  /** Seeded hash of the masked address prefix, the class and the name hash. */
  private hashKey(address: Uint8Array, cls: RrlClass, name: number): number {
    let h = mix(this.seed ^ (cls + 1) ^ Math.imul(name, 0x27d4eb2d));
    if (address.length === 4) {
      const w = word(address, 0) & this.v4Mask;
      return mix(h ^ w ^ 0x04);
    }
    for (let i = 0; i < 4; i++) {
      const m = this.v6Masks[i] as number;
      if (m === 0) break;
      h = mix(h ^ (word(address, i * 4) & m));
    }
    return mix(h ^ 0x06);
  }
}

function word(b: Uint8Array, i: number): number {
  return (
    (((b[i] as number) << 24) |
      ((b[i + 1] as number) << 16) |
      ((b[i + 2] as number) << 8) |
      (b[i + 3] as number)) >>>
    0
  );
}

/**
 * At most `perSecond` log lines a second, counting the ones held back so the next line
 * can say how many were suppressed. Limited responses are logged through one of these so a
 * flood cannot turn into a flood of log lines.
 */
export class LogGate {
  private windowStart = -Infinity;
  private used = 0;
  private held = 0;

  constructor(private readonly perSecond = 1) {}

  /**
   * Whether a line may be written at `nowMs`; when it may, `suppressed` is the number held
   * back since the last line written.
   */
  allow(nowMs: number): { suppressed: number } | undefined {
    if (nowMs - this.windowStart >= 1000) {
      this.windowStart = nowMs;
      this.used = 0;
    }
    if (this.used >= this.perSecond) {
      this.held++;
      return undefined;
    }
    this.used++;
    const suppressed = this.held;
    this.held = 0;
    return { suppressed };
  }
}
