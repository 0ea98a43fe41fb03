// One read of the store compiled into a publishable snapshot with its serial: what the
// manager swaps in and what `cirrus zone export` prints, so both agree on every record.
import type { Config } from '../config/schema.js';
import type { SnapshotSource as Store } from './source.js';
import { drive } from '../lib/cooperative.js';
import { buildSteps, type BuildInput } from './build.js';
import { contentHashSteps } from './content-hash.js';
import { firstExpiry, soaRecord } from './zone-content.js';
import { unixSerial } from './serial.js';
import { nextDue } from './signing.js';
import type { Snapshot } from './snapshot.js';

export interface FromStoreOptions {
  generation: number;
  /** The live snapshot; its serial is kept when the content did not change. */
  previous?: Snapshot | undefined;
  /**
   * With `previous`: when the content did not change, return it instead of an identical
   * new snapshot, so its answer cache and memoised hash orders stay warm (a token or peer
   * write, or a PATCH that changes nothing, would otherwise start every answer cold).
   */
  reuse?: boolean;
  now?: number | undefined;
}

/**
 * What a build compiled, serial included: another process holding the same config (a DNS
 * worker, see dns/workers.ts) builds the identical snapshot from it without the store.
 */
export type BuildRecipe = Omit<
  BuildInput,
  | 'config'
  | 'previousOrders'
  | 'previousPlans'
  | 'previousStatics'
  | 'hashCarry'
  | 'previousTransferSignatures'
>;

export async function snapshotFromStore(
  config: Config,
  store: Store,
  opts: FromStoreOptions,
): Promise<Snapshot> {
  return (await buildFromStore(config, store, { ...opts, reuse: false })).snapshot;
}

/**
 * snapshotFromStore, also returning the recipe of the snapshot it built; 'unchanged' when
 * `opts.reuse` is set and the previous snapshot already holds exactly this content.
 */
export async function buildFromStore(
  config: Config,
  store: Store,
  opts: FromStoreOptions & { reuse: true },
): Promise<{ snapshot: Snapshot; recipe: BuildRecipe } | 'unchanged'>;
export async function buildFromStore(
  config: Config,
  store: Store,
  opts: FromStoreOptions,
): Promise<{ snapshot: Snapshot; recipe: BuildRecipe }>;
export async function buildFromStore(
  config: Config,
  store: Store,
  opts: FromStoreOptions,
): Promise<{ snapshot: Snapshot; recipe: BuildRecipe } | 'unchanged'> {
  const now = opts.now ?? Date.now();
  const state = {
    ...(await store.loadState(config.zone.name)),
    acmeTxt: await store.listAcmeTxt(now),
  };
  const prev = opts.previous;
  const { digest: hash, carry } = await drive(
    contentHashSteps(config, state, prev?.hashCarry, now),
  );
  if (
    opts.reuse &&
    prev?.contentHash === hash &&
    prev.nextExpiry === nextDue(config, state.dnssecKeys, firstExpiry(state.acmeTxt, now), now)
  )
    return 'unchanged';
  // Build before claiming a serial, so a broken change never consumes one; the draft is
  // not visible to queries until the caller publishes it, so its SOA may still change.
  const draft = await drive(
    buildSteps({
      config,
      state,
      generation: 0,
      serial: 0,
      contentHash: hash,
      now,
      previousOrders: opts.previous?.orderMemos,
      previousPlans: opts.previous?.planSource,
      previousStatics: opts.previous?.statics,
      hashCarry: carry,
      previousSignatures: opts.previous?.signer?.cache,
      previousTransferSignatures: opts.previous?.transferSignatures,
    }),
  );
  const serial =
    opts.previous?.contentHash === hash
      ? opts.previous.serial
      : await store.advanceSerial(config.zone.name, hash, unixSerial(now));
  draft.zone.replaceSoa(soaRecord(config, serial));
  return {
    snapshot: { ...draft, serial, generation: opts.generation },
    recipe: { state, generation: opts.generation, serial, contentHash: hash, now },
  };
}
