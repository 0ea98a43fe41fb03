// A CSK rollover as changes to the stored keys' times (RFC 7583 §3.3 for a combined signing
// key, with double signatures): the new key is published, signs beside the old one once its
// DNSKEY is in every cache, CDS/CDNSKEY name it from then; the operator confirms that the
// parent's DS names it, then the old key stops signing once the old DS left every cache and
// its DNSKEY is withdrawn after that. Everything here is pure apart from DnssecRollover, which
// writes the result with a compare-and-set; the snapshot follows the times (snapshot/signing.ts).
import { ConflictError, ValidationError } from '../lib/errors.js';
import { algorithmName, type AlgorithmNumber } from './algorithm.js';
import type { DnssecKeyRepository } from './key-repository.js';
import { dsKey, keySetAt, keyState, loadKey, newStoredKey, type StoredKey } from './keys.js';
import { dnskeyText, dsRdata, dsText } from './records.js';
import { fqdn } from '../lib/dnsname.js';

/** What the rollover's intervals are derived from; seconds. */
export interface RolloverParameters {
  /** TTL of DNSKEY (TTLkey). */
  readonly dnskeyTtl: number;
  /** The longest TTL the zone serves, negative answers included (TTLsig: what a signature rides on). */
  readonly maxZoneTtl: number;
  /** Until every secondary serves a change (Dprp): their SOA refresh. */
  readonly propagationDelay: number;
  /** TTL of the zone's DS at the parent (TTLds). */
  readonly parentDsTtl: number;
  /** Until the parent's servers serve a new DS (DprpP). */
  readonly parentPropagationDelay: number;
  /** Multiplies every interval (tests); 1 in production. */
  readonly timescale: number;
}

/** The rollover's intervals, ms. */
export interface RolloverTimings {
  /**
   * Ipub = Dprp + TTLkey: publication to activation. Every cached DNSKEY RRset holds the new
   * key before anything is signed with it (RFC 7583 §3.2.1, §3.3).
   */
  readonly publishToActivateMs: number;
  /**
   * DprpP + TTLds: the operator's confirmation that the parent serves the new DS to the old
   * key's retirement. Until then a resolver may hold the old DS, and the DNSKEY RRset must
   * carry the old key's signature for it.
   */
  readonly confirmToRetireMs: number;
  /**
   * Iret = Dprp + max(TTLsig, TTLkey): retirement to removal. Answers signed while the old key
   * was active, and DNSKEY RRsets validated through it, leave every cache before its DNSKEY goes.
   */
  readonly retireToRemoveMs: number;
}

export function rolloverTimings(p: RolloverParameters): RolloverTimings {
  for (const [name, v] of Object.entries(p))
    if (!Number.isFinite(v) || v < 0) throw new Error(`rollover parameter ${name}: ${v}`);
  const ms = (sec: number) => Math.round(sec * 1000 * p.timescale);
  return {
    publishToActivateMs: ms(p.propagationDelay + p.dnskeyTtl),
    confirmToRetireMs: ms(p.parentPropagationDelay + p.parentDsTtl),
    retireToRemoveMs: ms(p.propagationDelay + Math.max(p.maxZoneTtl, p.dnskeyTtl)),
  };
}

/**
 * Where a rollover stands:
 * - idle: one key, nothing planned;
 * - pre-publication: the new DNSKEY is served, the old key alone signs;
 * - double-signature: both sign, CDS names the new key; waiting for the operator's
 *   confirmation that the parent's DS names it (complete);
 * - ds-propagation: confirmed; both sign until the old DS has left every cache;
 * - old-retired: the new key alone signs; the old DNSKEY is still served.
 */
export type RolloverPhase =
  'idle' | 'pre-publication' | 'double-signature' | 'ds-propagation' | 'old-retired';

export interface RolloverStatus {
  readonly phase: RolloverPhase;
  readonly inProgress: boolean;
  /** The key being rolled to. */
  readonly newKey: StoredKey | undefined;
  /** The keys being rolled from. */
  readonly oldKeys: readonly StoredKey[];
  /** The next planned key event, if any. */
  readonly next: { event: KeyEvent; key: string; at: number } | undefined;
}

export type KeyEvent = 'publish' | 'activate' | 'retire' | 'remove';

/** Keys not yet removed (planned ones included). */
function live(keys: readonly StoredKey[], now: number): StoredKey[] {
  return keys.filter((k) => keyState(k, now) !== 'removed');
}

function nextEvent(keys: readonly StoredKey[], now: number): RolloverStatus['next'] {
  let next: RolloverStatus['next'];
  for (const k of keys)
    for (const event of ['publish', 'activate', 'retire', 'remove'] as const) {
      const at = k[event];
      if (at !== null && at > now && (!next || at < next.at)) next = { event, key: k.id, at };
    }
  return next;
}

export function rolloverStatus(keys: readonly StoredKey[], now: number): RolloverStatus {
  const alive = live(keys, now);
  const next = nextEvent(keys, now);
  if (alive.length < 2) {
    return { phase: 'idle', inProgress: false, newKey: undefined, oldKeys: [], next };
  }
  // The newest key is the one rolled to; every other live key is rolled from.
  const newKey = alive.reduce((a, b) => (b.created > a.created ? b : a));
  const oldKeys = alive.filter((k) => k !== newKey);
  const newState = keyState(newKey, now);
  const oldStates = oldKeys.map((k) => keyState(k, now));
  let phase: RolloverPhase;
  if (newState !== 'active') phase = 'pre-publication';
  else if (oldStates.every((s) => s === 'retired')) phase = 'old-retired';
  else if (oldKeys.some((k) => k.retire === null)) phase = 'double-signature';
  else phase = 'ds-propagation';
  return { phase, inProgress: true, newKey, oldKeys, next };
}

/**
 * The key list with a rollover to `newKey` begun at `now`: published now, active after
 * Ipub. Keys removed before now are dropped (the list does not grow with every rollover).
 * Throws ConflictError while another rollover is in progress or when there is no key.
 */
export function beginRollover(
  keys: readonly StoredKey[],
  newKey: StoredKey,
  now: number,
  timings: RolloverTimings,
): StoredKey[] {
  const status = rolloverStatus(keys, now);
  if (status.inProgress)
    throw new ConflictError(
      `a key rollover is in progress (${status.phase}, new key ${status.newKey?.id})` +
        (status.phase === 'double-signature'
          ? '; confirm the parent DS with POST /api/v1/dnssec/rollover/complete'
          : status.next
            ? `; next step: ${status.next.event} of ${status.next.key} at ${new Date(status.next.at).toISOString()}`
            : ''),
    );
  const alive = live(keys, now);
  if (alive.length === 0)
    throw new ConflictError('the zone has no DNSSEC key to roll (keys are created at start)');
  return [...alive, { ...newKey, publish: now, activate: now + timings.publishToActivateMs }];
}

/**
 * The key list once the operator confirmed at `now` that the parent's DS names the new key:
 * the old keys retire after DprpP + TTLds and are removed Iret later. Throws ConflictError
 * unless the rollover is in double signature (the new key signs, the old retire is unplanned).
 */
export function confirmDs(
  keys: readonly StoredKey[],
  now: number,
  timings: RolloverTimings,
): StoredKey[] {
  const status = rolloverStatus(keys, now);
  if (status.phase !== 'double-signature') {
    const why =
      status.phase === 'idle'
        ? 'no key rollover is in progress'
        : status.phase === 'pre-publication'
          ? `the new key ${status.newKey?.id} signs from ${new Date(status.newKey?.activate ?? 0).toISOString()}; ` +
            'the parent may name it (GET /api/v1/dnssec/ds) only from then'
          : `the parent DS was already confirmed (${status.phase})`;
    throw new ConflictError(why);
  }
  const retire = now + timings.confirmToRetireMs;
  const remove = retire + timings.retireToRemoveMs;
  const old = new Set(status.oldKeys);
  return keys.map((k) => (old.has(k) && k.retire === null ? { ...k, retire, remove } : k));
}

/** Writes rollovers to the store with compare-and-set, retried when another writer won. */
export class DnssecRollover {
  constructor(
    private readonly repo: DnssecKeyRepository,
    private readonly zone: string,
  ) {}

  /**
   * Begins a rollover to a new key of the current key's algorithm. `algorithm`, when given,
   * must be that algorithm: an algorithm rollover is refused (ValidationError on `algorithm`).
   */
  async begin(
    timings: RolloverTimings,
    opts: { algorithm?: AlgorithmNumber | undefined; now?: number | undefined } = {},
  ): Promise<StoredKey[]> {
    const next = await this.repo.edit(this.zone, (keys) => {
      const now = opts.now ?? Date.now();
      const current = dsKey(keySetAt(keys, now))?.stored;
      const algorithm = current?.algorithm ?? opts.algorithm;
      if (algorithm === undefined)
        throw new ConflictError('the zone has no DNSSEC key to roll (keys are created at start)');
      if (opts.algorithm !== undefined && opts.algorithm !== algorithm)
        throw new ValidationError(
          `algorithm rollover (${algorithmName(algorithm)} to ${algorithmName(opts.algorithm)}) is not supported: ` +
            `a CSK rollover keeps the algorithm of the current key (${algorithmName(algorithm)})`,
          'algorithm',
        );
      const rolled = beginRollover(keys, newStoredKey(algorithm, now), now, timings);
      return { keys: rolled, result: rolled };
    });
    if (next === 'conflict')
      throw new ConflictError('the DNSSEC keys kept changing during the rollover; try again');
    return next;
  }

  /** The operator's confirmation that the parent's DS names the new key (confirmDs). */
  async complete(timings: RolloverTimings, now?: number): Promise<StoredKey[]> {
    const next = await this.repo.edit(this.zone, (keys) => {
      const confirmed = confirmDs(keys, now ?? Date.now(), timings);
      return { keys: confirmed, result: confirmed };
    });
    if (next === 'conflict')
      throw new ConflictError('the DNSSEC keys kept changing during the confirmation; try again');
    return next;
  }
}

/** One key as the API and the CLI show it: never its private key. */
export interface KeyView {
  id: string;
  tag: number;
  algorithm: number;
  algorithmName: string;
  state: string;
  /** The key the CDS/CDNSKEY name, i.e. the parent's DS should. */
  parentDs: boolean;
  created: string;
  publish: string;
  activate: string;
  retire: string | null;
  remove: string | null;
  dnskey: string;
  ds: string;
}

const iso = (t: number) => new Date(t).toISOString();

export function keyViews(zone: string, keys: readonly StoredKey[], now: number, dnskeyTtl: number) {
  const parent = dsKey(keySetAt(keys, now))?.stored.id;
  return keys.map((k): KeyView => {
    const loaded = loadKey(k);
    return {
      id: k.id,
      tag: loaded.tag,
      algorithm: k.algorithm,
      algorithmName: algorithmName(k.algorithm),
      state: keyState(k, now),
      parentDs: k.id === parent,
      created: iso(k.created),
      publish: iso(k.publish),
      activate: iso(k.activate),
      retire: k.retire === null ? null : iso(k.retire),
      remove: k.remove === null ? null : iso(k.remove),
      dnskey: `${fqdn(zone)}\t${dnskeyTtl}\tIN\tDNSKEY\t${dnskeyText(loaded.dnskey)}`,
      ds: `${fqdn(zone)}\tIN\tDS\t${dsText(dsRdata(zone, loaded.dnskey))}`,
    };
  });
}

/** The DS the parent should serve now: the key CDS names (SHA-256, RFC 4509). */
export function parentDs(zone: string, keys: readonly StoredKey[], now: number) {
  const key = dsKey(keySetAt(keys, now));
  if (!key) return [];
  const ds = dsRdata(zone, key.dnskey);
  return [
    {
      keyId: key.stored.id,
      tag: key.tag,
      algorithm: key.stored.algorithm,
      digestType: 2,
      digest: ds.subarray(4).toString('hex').toUpperCase(),
      text: `${fqdn(zone)}\tIN\tDS\t${dsText(ds)}`,
    },
  ];
}

export function rolloverView(status: RolloverStatus, timings: RolloverTimings) {
  return {
    phase: status.phase,
    inProgress: status.inProgress,
    newKey: status.newKey?.id ?? null,
    oldKeys: status.oldKeys.map((k) => k.id),
    awaitingDsConfirmation: status.phase === 'double-signature',
    next: status.next ? { ...status.next, at: iso(status.next.at) } : null,
    timings: {
      publishToActivateSeconds: timings.publishToActivateMs / 1000,
      confirmToRetireSeconds: timings.confirmToRetireMs / 1000,
      retireToRemoveSeconds: timings.retireToRemoveMs / 1000,
    },
  };
}
