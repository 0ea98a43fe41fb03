// The DomainPlan a build makes for each domain, kept small because a snapshot holds one
// per domain (100,000 and more) and a swap holds two snapshots: the settings domains
// share (TTLs, chain, allowed pools, ...) live in one interned PlanSettings, and the
// origin addresses answered only by the 'backup' last resort are encoded on first use.
import { ipFamily, ipv4ToBytes, ipv6ToBytes } from '../lib/ip.js';
import { normalizeName } from '../lib/dnsname.js';
import type { ChainStep, LastResort } from './policy-model.js';
import type { DomainPlan, PlanSettings, Spread } from './plan.js';

export type { PlanSettings };

/** An origin as the store holds it: an IP address or a host name, maybe a backup. */
export interface OriginAddress {
  readonly address: string;
  readonly backup: boolean;
}

interface Fallback {
  readonly a: readonly Buffer[];
  readonly aaaa: readonly Buffer[];
}

/**
 * Per family: the backup origins when the domain has some, else the primaries (Gcore's
 * `backup`): a backup of one family does not hide primaries of the other.
 */
function fallbackOf(origins: readonly OriginAddress[]): Fallback {
  const of = (family: 4 | 6) => {
    const all = origins.filter((o) => ipFamily(o.address) === family);
    const backups = all.filter((o) => o.backup);
    return (backups.length > 0 ? backups : all).map((o) =>
      family === 4 ? ipv4ToBytes(o.address) : ipv6ToBytes(o.address),
    );
  };
  return { a: of(4), aaaa: of(6) };
}

/** The host name CNAMEd to when no origin has an address of either family: the first one. */
export function fallbackHostOf(origins: readonly OriginAddress[]): string | undefined {
  let host: string | undefined;
  for (const o of origins) {
    if (ipFamily(o.address) !== undefined) return undefined;
    host ??= o.address;
  }
  return host === undefined ? undefined : normalizeName(host);
}

export class CompiledPlan implements DomainPlan {
  /** hash32 as a signed 32-bit integer: a small integer field, where the unsigned value would be a boxed double. */
  private readonly seed: number;
  private fallback: Fallback | undefined;

  constructor(
    readonly domain: string,
    readonly label: string,
    readonly owner: string,
    keySeed: number,
    readonly settings: PlanSettings,
    /** Shared with the store's domain, which is replaced whole on change, never edited. */
    private readonly origins: readonly OriginAddress[],
    readonly fallbackHost: string | undefined,
  ) {
    this.seed = keySeed | 0;
  }

  get keySeed(): number {
    return this.seed >>> 0;
  }
  get ttl(): number {
    return this.settings.ttl;
  }
  get failoverTtl(): number {
    return this.settings.failoverTtl;
  }
  get answers(): number {
    return this.settings.answers;
  }
  get chain(): readonly ChainStep[] {
    return this.settings.chain;
  }
  get pools(): ReadonlySet<string> | undefined {
    return this.settings.pools;
  }
  get lastResort(): LastResort {
    return this.settings.lastResort;
  }
  get ecs(): boolean {
    return this.settings.ecs;
  }
  get spread(): Spread | undefined {
    return this.settings.spread;
  }
  get fleetKey(): string | undefined {
    return this.settings.fleetKey;
  }
  // Encoded on the first backup answer: a pure function of the immutable origins.
  get fallbackA(): readonly Buffer[] {
    return (this.fallback ??= fallbackOf(this.origins)).a;
  }
  get fallbackAAAA(): readonly Buffer[] {
    return (this.fallback ??= fallbackOf(this.origins)).aaaa;
  }
}
