// Compiles the store's state and the config into a Snapshot: nodes and pools, then the
// domains' plans (plans.ts), then the zone's own records (zone-content.ts). Pure and
// synchronous: it throws on anything that would make the zone wrong (bad static records,
// records outside the zone, CNAME conflicts), and the manager then keeps the previous
// snapshot serving. What one build hands to the next (hash orders, plans, the static
// parse, the content hash's continuation) comes in through BuildInput, never module state.
import type { Config } from '../config/schema.js';
import type { StoreState } from './source.js';
import { ipv4ToBytes, ipv6ToBytes } from '../lib/ip.js';
import { ZoneError } from '../lib/errors.js';
import { FamilyPool, OrderMemos, type NodeEntry } from '../gslb/plan.js';
import { compileGslb, DEFAULT_POLICY, type GslbIndex } from '../gslb/pools.js';
import { hash32 } from '../gslb/rendezvous.js';
import type { HashCarry } from './content-hash.js';
import { DomainIndex } from './domain-index.js';
import { planSteps, type PlanSource } from './plans.js';
import type { Snapshot } from './snapshot.js';
import { runSteps } from './steps.js';
import { zoneContent, type StaticParse } from './zone-content.js';
import { nextDue, signingContent } from './signing.js';
import type { SignatureCache, ZoneSignatures } from '../dnssec/signature-cache.js';

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
  /** The live snapshot's static parse: kept when the zone text is as it was. */
  previousStatics?: StaticParse | undefined;
  /** Where the digest `contentHash` left off, handed on with the snapshot (content-hash.ts). */
  hashCarry?: HashCarry | undefined;
  /** The live snapshot's signatures: reused while the same keys sign the same content. */
  previousSignatures?: SignatureCache | undefined;
  /** The live snapshot's transfer signatures: an unchanged RRset keeps its RRSIG. */
  previousTransferSignatures?: ZoneSignatures | undefined;
}

export function buildSnapshot(input: BuildInput): Snapshot {
  return runSteps(buildSteps(input));
}

/** buildSnapshot in steps: yields every BUILD_CHUNK domains (see snapshotFromStore). */
export function* buildSteps(input: BuildInput): Generator<void, Snapshot> {
  const { config, state } = input;
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
  const planSource = yield* planSteps({
    config,
    domains: state.domains,
    sortedDomains,
    policy,
    gslb,
    previous: input.previousPlans,
  });
  warnings.push(...planSource.warnings);
  for (const key of planSource.fleetKeys) addFleet(key);
  // Every pool of this build exists now: the previous snapshot's memos may go.
  orderMemos.seal();
  const plans = planSource.plans;

  const now = input.now ?? Date.now();
  const signing = signingContent(
    config,
    state.dnssecKeys,
    now,
    input.previousSignatures,
    input.previousTransferSignatures,
  );
  const content = zoneContent(
    config,
    state,
    plans,
    input.serial,
    now,
    input.previousStatics,
    warnings,
    signing?.apex ?? [],
  );

  return {
    generation: input.generation,
    serial: input.serial,
    contentHash: input.contentHash,
    builtAt: input.now ?? Date.now(),
    zone: content.zone,
    plans,
    domains: new DomainIndex(plans),
    nodes,
    gslb,
    orderMemos,
    planSource,
    statics: content.statics,
    hashCarry: input.hashCarry,
    warnings,
    nextExpiry: nextDue(config, state.dnssecKeys, content.nextExpiry, now),
    signer: signing?.signer,
    transferSignatures: signing?.transferSignatures,
  };
}
