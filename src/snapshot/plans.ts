// Plan compilation: each domain's answer plan keyed by its base name (`<label>.<zone>`),
// oldest domain first so an older domain keeps a contested base name. Plans hold nothing of
// one build's nodes (fleets by key, hash orders in the pools), so a build whose domains and
// policy are those of the previous one keeps that one's plans whole (PlanSource).
import type { Config } from '../config/schema.js';
import type { StoreState } from './source.js';
import { normalizeName } from '../lib/dnsname.js';
import type { DomainPlan } from '../gslb/plan.js';
import { CompiledPlan, fallbackHostOf, type PlanSettings } from '../gslb/domain-plan.js';
import type { GslbIndex } from '../gslb/pools.js';
import type { GslbPolicy } from '../gslb/policy-model.js';
import { hash32 } from '../gslb/rendezvous.js';
import { sameObjects } from './content-hash.js';
import { BUILD_CHUNK } from './steps.js';

type StoredDomain = StoreState['domains'][number];

/**
 * What a snapshot's plans were compiled from. When the next build has the very same
 * domain objects (the store replaces a domain whole on change, never edits one) and the
 * same policy, it keeps the plans as they are: a node or health change then rebuilds the
 * pools and the zone, not 100,000 plans.
 */
export interface PlanSource {
  readonly config: Config;
  readonly domains: readonly StoredDomain[];
  readonly policyKey: string;
  readonly plans: ReadonlyMap<string, DomainPlan>;
  readonly fleetKeys: ReadonlySet<string>;
  /** The warnings the plans gave (base name clashes), repeated by every build keeping them. */
  readonly warnings: readonly string[];
}

export interface PlanInput {
  readonly config: Config;
  readonly domains: readonly StoredDomain[];
  /** `domains` oldest first (see buildSteps), computed on demand. */
  readonly sortedDomains: () => readonly StoredDomain[];
  readonly policy: GslbPolicy;
  readonly gslb: GslbIndex;
  /** The live snapshot's plan source: kept whole when the domains and policy are as they were. */
  readonly previous: PlanSource | undefined;
}

function samePlanSource(
  prev: PlanSource | undefined,
  config: Config,
  domains: readonly StoredDomain[],
  policyKey: string,
): prev is PlanSource {
  return (
    prev !== undefined &&
    prev.config === config &&
    prev.policyKey === policyKey &&
    sameObjects(prev.domains, domains)
  );
}

/**
 * The key of the fleet a domain limited to `pools` is answered from by the default step;
 * undefined when the policy's default pool is among them (the default step serves it).
 */
function fleetKeyOf(policy: GslbPolicy, pools: readonly string[] | undefined): string | undefined {
  if (!pools) return undefined;
  if (policy.defaultPool !== null && pools.includes(policy.defaultPool)) return undefined;
  return [...new Set(pools)].sort().join('+');
}

type DomainSettings = Pick<
  StoredDomain,
  'ttl' | 'answers' | 'chain' | 'pools' | 'lastResort' | 'ecs' | 'spread'
>;

/**
 * The settings of a domain's plan, one object per distinct combination: most domains set
 * none of them and share the default one, so a plan costs its identity and little more.
 */
function planSettings(
  config: Config,
  gslb: GslbIndex,
  policy: GslbPolicy,
): (d: DomainSettings) => PlanSettings {
  const make = (d: DomainSettings): PlanSettings => ({
    ttl: d.ttl ?? config.gslb.ttl,
    failoverTtl: Math.min(d.ttl ?? config.gslb.ttl, config.gslb.failoverTtl),
    answers: d.answers ?? config.gslb.answers,
    chain: d.chain ?? gslb.chain,
    pools: d.pools ? new Set(d.pools) : undefined,
    lastResort: d.lastResort ?? gslb.lastResort,
    ecs: d.ecs ?? true,
    spread: d.spread,
    fleetKey: fleetKeyOf(policy, d.pools),
  });
  const plain = make({});
  const interned = new Map<string, PlanSettings>();
  return (d) => {
    if (
      d.ttl === undefined &&
      d.answers === undefined &&
      d.chain === undefined &&
      d.pools === undefined &&
      d.lastResort === undefined &&
      d.ecs === undefined &&
      d.spread === undefined
    )
      return plain;
    const key = JSON.stringify([d.ttl, d.answers, d.chain, d.pools, d.lastResort, d.ecs, d.spread]);
    let s = interned.get(key);
    if (!s) {
      s = make(d);
      interned.set(key, s);
    }
    return s;
  };
}

/** The plans of one build, kept from `input.previous` or compiled; yields every BUILD_CHUNK domains. */
export function* planSteps(input: PlanInput): Generator<void, PlanSource> {
  const { config, policy } = input;
  const policyKey = JSON.stringify(policy);
  if (samePlanSource(input.previous, config, input.domains, policyKey)) return input.previous;
  const zoneName = config.zone.name;
  const plans = new Map<string, DomainPlan>();
  const warnings: string[] = [];
  const fleetKeys = new Set<string>();
  const settingsOf = planSettings(config, input.gslb, policy);
  let done = 0;
  for (const d of input.sortedDomains()) {
    if (++done % BUILD_CHUNK === 0) yield;
    const owner = `${normalizeName(d.label)}.${zoneName}`;
    const clash = plans.get(owner);
    if (clash) {
      warnings.push(
        `domain ${d.domain} skipped: its base name ${owner} belongs to ${clash.domain}`,
      );
      continue;
    }
    const settings = settingsOf(d);
    if (settings.fleetKey !== undefined) fleetKeys.add(settings.fleetKey);
    plans.set(
      owner,
      new CompiledPlan(
        d.domain,
        d.label,
        owner,
        hash32(d.domain),
        settings,
        d.origins,
        fallbackHostOf(d.origins),
      ),
    );
  }
  return { config, domains: input.domains, policyKey, plans, fleetKeys, warnings };
}
