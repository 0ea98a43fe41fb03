// Compiles the store's state and the config into a Snapshot. Pure and synchronous: it
// throws on anything that would make the zone wrong (bad static records, records outside
// the zone, CNAME conflicts), and the manager then keeps the previous snapshot serving.
import { createHash, type Hash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { StoreState } from './source.js';
import { RRType } from '../dns/constants.js';
import { encodeName } from '../dns/name-wire.js';
import { ipv4ToBytes, ipv6ToBytes } from '../lib/ip.js';
import { isSubdomainOf, normalizeName } from '../lib/dnsname.js';
import { ZoneError } from '../lib/errors.js';
import { parseZoneText } from '../zone/parse.js';
import { rr, type ResourceRecord } from '../zone/record.js';
import { ZoneData } from '../zone/zone-data.js';
import { FamilyPool, OrderMemos, type DomainPlan, type NodeEntry } from '../gslb/plan.js';
import { CompiledPlan, fallbackHostOf, type PlanSettings } from '../gslb/domain-plan.js';
import { DomainIndex } from './domain-index.js';
import { compileGslb, DEFAULT_POLICY, type GslbIndex } from '../gslb/pools.js';
import { hash32 } from '../gslb/rendezvous.js';
import type { Snapshot } from './snapshot.js';
import type { AcmeTxt } from '../acme/model.js';
import { txtRdata } from '../zone/rdata.js';

export function soaRecord(config: Config, serial: number): ResourceRecord {
  const s = config.zone.soa;
  const nums = Buffer.alloc(20);
  [serial, s.refresh, s.retry, s.expire, s.minimum].forEach((v, i) =>
    nums.writeUInt32BE(v >>> 0, i * 4),
  );
  const rdata = Buffer.concat([encodeName(s.mname as string), encodeName(s.rname as string), nums]);
  return rr(config.zone.name, RRType.SOA, s.ttl, rdata);
}

function apexRecords(config: Config): ResourceRecord[] {
  const zone = config.zone.name;
  const out: ResourceRecord[] = [];
  for (const ns of config.zone.ns) {
    out.push(rr(zone, RRType.NS, config.zone.ttl, encodeName(ns.name)));
    if (!isSubdomainOf(ns.name, zone)) continue;
    for (const a of ns.ipv4) out.push(rr(ns.name, RRType.A, config.zone.ttl, ipv4ToBytes(a)));
    for (const a of ns.ipv6) out.push(rr(ns.name, RRType.AAAA, config.zone.ttl, ipv6ToBytes(a)));
  }
  return out;
}

/**
 * The last static zone parsed: most rebuilds (a domain, a node's health) leave the zone
 * text as it was, and records are immutable, so the parse is reused as it stands.
 */
let lastParse: { text: string; origin: string; ttl: number; records: ResourceRecord[] } | undefined;

function parseStatic(text: string, origin: string, ttl: number): ResourceRecord[] {
  const hit = lastParse;
  if (hit && hit.text === text && hit.origin === origin && hit.ttl === ttl) return hit.records;
  const records = parseZoneText(text, { origin, defaultTtl: ttl });
  lastParse = { text, origin, ttl, records };
  return records;
}

function staticRecords(config: Config, text: string | null): ResourceRecord[] {
  if (!text) return [];
  const zone = config.zone.name;
  const records = parseStatic(text, zone, config.zone.ttl);
  for (const r of records) {
    if (r.type === RRType.SOA)
      throw new ZoneError(
        `static records may not hold a SOA: it comes from zone.soa in the config`,
      );
    if (r.type === RRType.NS && r.name === zone) {
      throw new ZoneError(
        `static records may not hold the apex NS set: it comes from zone.ns in the config`,
      );
    }
  }
  return records;
}

/**
 * Domains handled between two yields of a cooperative build; whoever drives the steps
 * decides whether a yield hands the event loop back (from-store.ts `drive`, by time).
 */
export const BUILD_CHUNK = 250;

/** Characters of domain JSON fed to the content hash at once. */
const HASH_BATCH = 16_384;

/** Runs a cooperative build step by step to its end, without yielding to anyone. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Digest of everything that shapes the zone's content; equal digests keep the serial. */
export function contentHash(config: Config, state: StoreState): string {
  return runSteps(contentHashSteps(config, state, false));
}

/**
 * The hash state right after the domains of the last cooperative digest, with the domain
 * objects it covered: a rebuild whose domains are the very same objects (a node, health
 * or policy change with the embedded store, which replaces a domain whole on every write
 * and never edits one in place) continues from a copy instead of serialising every domain
 * again. The digest is the same either way.
 */
let afterDomains: { head: string; domains: readonly object[]; hash: Hash } | undefined;

function sameObjects(a: readonly object[], b: readonly object[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * contentHash in steps: the digest of exactly JSON.stringify([zone, gslb, zone text,
 * domains, nodes, policy, (challenges)]), fed to the hash a chunk of domains at a time so
 * a large store can be hashed between queries. `reuse` continues from the last digest's
 * domains when they are the same objects (see afterDomains); only for states whose domain
 * objects are never edited in place, as the stores' are.
 */
export function* contentHashSteps(
  config: Config,
  state: StoreState,
  reuse = true,
): Generator<void, string> {
  const head = `[${JSON.stringify(config.zone)},${JSON.stringify(config.gslb)},${JSON.stringify(state.zoneText ?? '')},[`;
  const last = afterDomains;
  let h: Hash;
  if (reuse && last && last.head === head && sameObjects(last.domains, state.domains)) {
    h = last.hash.copy();
  } else {
    h = createHash('sha256');
    const domains = [...state.domains].sort((a, b) => (a.domain < b.domain ? -1 : 1));
    h.update(head);
    // The digest of a concatenation does not depend on how it is cut: one update per
    // HASH_BATCH characters or so costs less than one per domain, and a batch this small
    // stays in the young generation (a chunk's whole text would be a large object, left
    // for a full collection to free).
    let text = '';
    for (let i = 0; i < domains.length; i++) {
      const d = domains[i] as (typeof domains)[number];
      text +=
        (i ? ',' : '') +
        JSON.stringify([
          d.domain,
          d.label,
          d.origins,
          d.ttl ?? null,
          d.answers ?? null,
          d.chain ?? null,
          d.pools ?? null,
          d.lastResort ?? null,
          d.ecs ?? null,
          d.spread ?? null,
        ]);
      if (text.length >= HASH_BATCH) {
        h.update(text);
        text = '';
      }
      if (i % BUILD_CHUNK === BUILD_CHUNK - 1) yield;
    }
    h.update(text);
    if (reuse) afterDomains = { head, domains: [...state.domains], hash: h.copy() };
  }
  // Health counters are not content; `active` and the mode are (they change the answers).
  const nodes = [...state.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((n) => [
      n.id,
      n.ipv4 ?? null,
      n.ipv6 ?? null,
      n.pool,
      n.weight,
      n.active,
      n.mode ?? 'auto',
    ]);
  h.update(`],${JSON.stringify(nodes)},${JSON.stringify(state.policy ?? null)}`);
  // Only the values are content: a refreshed expiry alone keeps the serial. Appended only
  // when present, so a zone without challenges keeps the hash it had before ACME existed.
  if (state.acmeTxt?.length)
    h.update(
      `,${JSON.stringify(config.acme.zone)},${JSON.stringify(config.acme.txtTtl)},${JSON.stringify(acmeTxtRecords(config, state.acmeTxt))}`,
    );
  h.update(']');
  return h.digest('hex');
}

/** When the first challenge value still live at `now` expires: the next rebuild is due. */
export function firstExpiry(txt: readonly AcmeTxt[], now: number): number | undefined {
  let min: number | undefined;
  for (const t of txt)
    if (t.expiresAt > now && (min === undefined || t.expiresAt < min)) min = t.expiresAt;
  return min;
}

/** The challenge TXT values as `[owner, value]`, in a stable order. */
function acmeTxtRecords(config: Config, txt: readonly AcmeTxt[]): Array<[string, string]> {
  return txt
    .map((t): [string, string] => [`${t.name}.${config.acme.zone as string}`, t.value])
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
}

type DomainSettings = Pick<
  StoreState['domains'][number],
  'ttl' | 'answers' | 'chain' | 'pools' | 'lastResort' | 'ecs' | 'spread'
>;

/**
 * The settings of a domain's plan, one object per distinct combination: most domains set
 * none of them and share the default one, so a plan costs its identity and little more.
 */
function planSettings(
  config: Config,
  gslb: GslbIndex,
  fleetKeyOf: (pools: readonly string[] | undefined) => string | undefined,
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
    fleetKey: fleetKeyOf(d.pools),
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

export interface BuildInput {
  config: Config;
  state: StoreState;
  generation: number;
  serial: number;
  contentHash: string;
  now?: number;
  /** The live snapshot's order memos: pools that rank as before keep theirs. */
  previousOrders?: OrderMemos | undefined;
  /** The live snapshot's plans: kept whole when the domains and policy are as they were. */
  previousPlans?: PlanSource | undefined;
}

/**
 * What a snapshot's plans were compiled from. Plans hold nothing of one build's nodes
 * (fleets by key, hash orders in the pools), so when the next build has the very same
 * domain objects (the store replaces a domain whole on change, never edits one) and the
 * same policy, it keeps them as they are: a node or health change then rebuilds the pools
 * and the zone, not 100,000 plans.
 */
export interface PlanSource {
  readonly config: Config;
  readonly domains: readonly StoreState['domains'][number][];
  readonly policyKey: string;
  readonly plans: ReadonlyMap<string, DomainPlan>;
  readonly fleetKeys: ReadonlySet<string>;
  /** The warnings the plans gave (base name clashes), repeated by every build keeping them. */
  readonly warnings: readonly string[];
}

function samePlanSource(
  prev: PlanSource | undefined,
  config: Config,
  domains: readonly StoreState['domains'][number][],
  policyKey: string,
): prev is PlanSource {
  return (
    prev !== undefined &&
    prev.config === config &&
    prev.policyKey === policyKey &&
    sameObjects(prev.domains, domains)
  );
}

export function buildSnapshot(input: BuildInput): Snapshot {
  return runSteps(buildSteps(input));
}

/** buildSnapshot in steps: yields every BUILD_CHUNK domains (see snapshotFromStore). */
export function* buildSteps(input: BuildInput): Generator<void, Snapshot> {
  const { config, state } = input;
  const zoneName = config.zone.name;
  const warnings: string[] = [];

  const nodes: NodeEntry[] = [...state.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((n) => ({
      id: n.id,
      pool: n.pool,
      weight: n.weight,
      active: n.active && n.mode !== 'drain',
      healthy: n.active,
      drained: n.mode === 'drain',
      seed: hash32(n.id),
      a: n.ipv4 ? ipv4ToBytes(n.ipv4) : undefined,
      aaaa: n.ipv6 ? ipv6ToBytes(n.ipv6) : undefined,
    }));

  // Oldest first, so an older domain keeps a contested base name. Code-point order: ISO
  // times and host names compare correctly without the cost of localeCompare. Sorted only
  // when plans are compiled or bounded-load demand is read.
  let sorted: StoreState['domains'] | undefined;
  const sortedDomains = () =>
    (sorted ??= [...state.domains].sort((a, b) =>
      a.createdAt !== b.createdAt
        ? a.createdAt < b.createdAt
          ? -1
          : 1
        : a.domain < b.domain
          ? -1
          : a.domain > b.domain
            ? 1
            : 0,
    ));
  const policy = state.policy ?? DEFAULT_POLICY;
  // Every domain may hold a head and a full order per family pool it is answered from.
  const orderMemos = new OrderMemos(input.previousOrders, 4 * state.domains.length + 1024);
  let gslb: GslbIndex;
  try {
    gslb = compileGslb(
      policy,
      nodes,
      // Only bounded-load hashing reads every domain's demand.
      policy.loadBound === null
        ? []
        : sortedDomains().map((d) => ({
            keySeed: hash32(d.domain),
            answers: d.answers ?? config.gslb.answers,
          })),
      warnings,
      orderMemos,
    );
  } catch (err) {
    throw new ZoneError(`GSLB policy: ${(err as Error).message}`);
  }
  const fleetKeyOf = (pools: readonly string[] | undefined): string | undefined => {
    if (!pools) return undefined;
    if (policy.defaultPool !== null && pools.includes(policy.defaultPool)) return undefined;
    return [...new Set(pools)].sort().join('+');
  };
  // The default step's pool of every domain limited to some pools, for this build's nodes.
  const addFleet = (key: string): void => {
    if (gslb.fleets.has(key)) return;
    const pools = key.split('+');
    const members = nodes.filter((n) => pools.includes(n.pool));
    gslb.fleets.set(key, {
      name: key,
      lat: undefined,
      lon: undefined,
      minHealthy: 1,
      v4: new FamilyPool(
        4,
        members.filter((n) => n.a),
        null,
        [],
        orderMemos,
      ),
      v6: new FamilyPool(
        6,
        members.filter((n) => n.aaaa),
        null,
        [],
        orderMemos,
      ),
    });
  };
  const policyKey = JSON.stringify(policy);
  let planSource: PlanSource;
  if (samePlanSource(input.previousPlans, config, state.domains, policyKey)) {
    planSource = input.previousPlans;
    warnings.push(...planSource.warnings);
  } else {
    const plans = new Map<string, DomainPlan>();
    const planWarnings: string[] = [];
    const fleetKeys = new Set<string>();
    const settingsOf = planSettings(config, gslb, fleetKeyOf);
    let done = 0;
    for (const d of sortedDomains()) {
      if (++done % BUILD_CHUNK === 0) yield;
      const owner = `${normalizeName(d.label)}.${zoneName}`;
      const clash = plans.get(owner);
      if (clash) {
        planWarnings.push(
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
    warnings.push(...planWarnings);
    planSource = {
      config,
      domains: state.domains,
      policyKey,
      plans,
      fleetKeys,
      warnings: planWarnings,
    };
  }
  for (const key of planSource.fleetKeys) addFleet(key);
  // Every pool of this build exists now: the previous snapshot's memos may go.
  orderMemos.seal();
  const plans = planSource.plans;

  const statics = staticRecords(config, state.zoneText).filter((r) => {
    if (!plans.has(r.name)) return true;
    warnings.push(
      `static record ${r.name} is shadowed by the base name of ${plans.get(r.name)?.domain}`,
    );
    return false;
  });
  // Challenge values are ordinary zone content: served by the static stage, exported and
  // transferred to secondaries; each leaves with the first build after its expiry.
  const now = input.now ?? Date.now();
  const liveTxt = (state.acmeTxt ?? []).filter((t) => t.expiresAt > now);
  const challenges = acmeTxtRecords(config, liveTxt).map(([owner, value]) =>
    rr(owner, RRType.TXT, config.acme.txtTtl, txtRdata(value)),
  );
  // A challenge value never breaks the build (the zone would stop following the store):
  // one that lands on an owner the zone already uses is left out and reported.
  const taken = new Set(statics.map((r) => r.name));
  const served = challenges.filter((c) => {
    if (!taken.has(c.name) && !plans.has(c.name)) return true;
    warnings.push(`challenge TXT ${c.name} skipped: the name holds other records of the zone`);
    return false;
  });
  const zone = new ZoneData(zoneName, soaRecord(config, input.serial), [
    ...apexRecords(config),
    ...statics,
    ...served,
  ]);
  const nextExpiry = firstExpiry(liveTxt, now);

  return {
    generation: input.generation,
    serial: input.serial,
    contentHash: input.contentHash,
    builtAt: input.now ?? Date.now(),
    zone,
    plans,
    domains: new DomainIndex(plans),
    nodes,
    gslb,
    orderMemos,
    planSource,
    warnings,
    nextExpiry,
  };
}
