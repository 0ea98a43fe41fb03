// What the snapshot compiler reads, declared here and provided by the composition root from
// the features' repositories: one `loadState` per build, never during a query.
import type { Domain, EdgeNode } from '../model/domain.js';
import type { GslbPolicy } from '../gslb/policy-model.js';
import type { AcmeTxt } from '../model/acme.js';
import type { StoreChange } from '../store/store.js';
import type { StoredKey } from '../dnssec/keys.js';

export interface StoreState {
  /** Shared with the store: replaced whole on every write, never changed in place. */
  domains: Domain[];
  nodes: EdgeNode[];
  /** Static records of the zone as RFC 1035 text, or null when none were ever stored. */
  zoneText: string | null;
  /** The GSLB policy document, or null when none was ever stored (the built-in default). */
  policy: GslbPolicy | null;
  /** Unexpired challenge TXT values; filled by the snapshot loader (listAcmeTxt), not loadState. */
  acmeTxt?: AcmeTxt[];
  /** The zone's DNSSEC keys ([] or absent: none); served only with dnssec.enabled. */
  dnssecKeys?: StoredKey[];
}

/** The publish gate's release marker, shared by every instance (release-record.ts). */
export interface ReleaseMarkers {
  get(): Promise<string | undefined>;
  put(marker: string): Promise<void>;
}

export interface SnapshotSource {
  onChange(listener: (change: StoreChange) => void): () => void;
  loadState(zone: string): Promise<StoreState>;
  /** Every challenge value still unexpired at `now` (ms), sorted by name then value. */
  listAcmeTxt(now: number): Promise<AcmeTxt[]>;
  /**
   * The SOA serial for `contentHash`: the stored one when the hash is unchanged, else the
   * next in RFC 1982 arithmetic, at least `floor`; one serial per content for every instance.
   */
  advanceSerial(zone: string, contentHash: string, floor: number): Promise<number>;
  releases: ReleaseMarkers;
}
