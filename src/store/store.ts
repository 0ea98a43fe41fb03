// The store contract: one interface for the embedded (memory + JSON file) and Redis
// implementations, exercised by one shared contract test suite. It holds the source of
// truth; the snapshot compiler reads it in one `loadState` and never during a query.
import type { Domain, EdgeNode, HealthView, NodeHealth, TokenRecord } from './model.js';
import type { GslbPolicy } from '../gslb/policy-model.js';
import type { AcmeDnsAccount, AcmeDomainState, AcmeTxt, StoredCertificate } from '../acme/model.js';
import type { JournalEntry, ZoneVersion } from '../xfr/journal.js';
import type { PeersDocument } from '../xfr/peers.js';

export interface StoreState {
  domains: Domain[];
  nodes: EdgeNode[];
  /** Static records of the zone as RFC 1035 text, or null when none were ever stored. */
  zoneText: string | null;
  /** The GSLB policy document, or null when none was ever stored (the built-in default). */
  policy: GslbPolicy | null;
  /** Unexpired challenge TXT values; filled by the snapshot loader (listAcmeTxt), not loadState. */
  acmeTxt?: AcmeTxt[];
}

export type ChangeKind =
  'domains' | 'nodes' | 'zone' | 'tokens' | 'policy' | 'health' | 'acme' | 'xfr' | 'all';

export interface StoreChange {
  kind: ChangeKind;
  /** Where the change came from: this process, or another writer (pub/sub, the file). */
  origin: 'local' | 'remote';
}

export interface Store {
  readonly kind: 'embedded' | 'redis';
  start(): Promise<void>;
  /** Safe to call after a failed or partial start, and twice. */
  stop(): Promise<void>;
  onChange(listener: (change: StoreChange) => void): () => void;

  loadState(zone: string): Promise<StoreState>;
  /** True when the store holds no domain, node or zone text: the seed may fill it. */
  isEmpty(zone: string): Promise<boolean>;

  listDomains(): Promise<Domain[]>;
  getDomain(name: string): Promise<Domain | undefined>;
  putDomain(domain: Domain): Promise<void>;
  deleteDomain(name: string): Promise<boolean>;

  listNodes(): Promise<EdgeNode[]>;
  getNode(id: string): Promise<EdgeNode | undefined>;
  putNode(node: EdgeNode): Promise<void>;
  deleteNode(id: string): Promise<boolean>;
  /** Replaces the whole node list in one step (Cirrus CDN's `PUT /nodes`). */
  replaceNodes(nodes: EdgeNode[]): Promise<void>;

  getZoneText(zone: string): Promise<string | null>;
  putZoneText(zone: string, text: string): Promise<void>;

  putToken(token: TokenRecord, hash: string): Promise<void>;
  listTokens(): Promise<TokenRecord[]>;
  deleteToken(id: string): Promise<boolean>;
  tokenIdByHash(hash: string): Promise<string | undefined>;

  /**
   * Returns the SOA serial for `contentHash`: the stored one when the hash is unchanged,
   * else max(stored + 1, floor) in RFC 1982 arithmetic, stored atomically with the hash.
   * Every instance sharing a store thus agrees on one serial per content.
   */
  advanceSerial(zone: string, contentHash: string, floor: number): Promise<number>;

  getPolicy(): Promise<GslbPolicy | null>;
  /** Stored whole in `cdn:gslb:policy`; a change event of kind 'policy'. */
  putPolicy(policy: GslbPolicy): Promise<void>;

  /**
   * Writes the health checker's fields of `cdn:node:{id}` (never its config fields). A change
   * of `active` is a content change (kind 'health', `cdn:cname:dirty` published); counters
   * alone are not. Returns false when the node does not exist (nothing is written).
   */
  setNodeHealth(id: string, active: boolean, health: NodeHealth): Promise<boolean>;
  /** This instance's views (`cdn:health:{node}:{instance}`), each expiring after ttlSec. */
  putHealthViews(views: ReadonlyMap<string, HealthView>, ttlSec: number): Promise<void>;
  /** Every unexpired view of the given nodes, by node id. */
  loadHealthViews(nodeIds: readonly string[]): Promise<Map<string, HealthView[]>>;
  /**
   * Takes or renews the lock `cdn:lock:{name}` for `owner` for ttlMs; true when `owner`
   * holds it afterwards. Locks expire on their own when the owner dies.
   */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock only if `owner` holds it. */
  releaseLock(name: string, owner: string): Promise<void>;

  /** TSIG keys and secondaries managed through the API (`cdn:xfr:peers`). */
  getPeers(): Promise<PeersDocument | null>;
  /** Stored whole; a change event of kind 'xfr' (not zone content: the serial stays). */
  putPeers(doc: PeersDocument): Promise<void>;

  /** The zone version secondaries were last offered (`cdn:xfr:version:{zone}`). */
  getZoneVersion(zone: string): Promise<ZoneVersion | null>;
  /**
   * Compare-and-set: stores `next` and appends `entry` (when not null) to the journal
   * (`cdn:xfr:journal:{zone}`, oldest first, the last `maxEntries` kept) only if the stored
   * version's serial is still `expected` (null: none stored). False when another writer won.
   */
  commitZoneVersion(
    zone: string,
    expected: number | null,
    next: ZoneVersion,
    entry: JournalEntry | null,
    maxEntries: number,
  ): Promise<boolean>;
  loadJournal(zone: string): Promise<JournalEntry[]>;

  /** This instance's live serial and content hash (`cdn:instance:{id}`), expiring after ttlSec. */
  putInstance(id: string, value: string, ttlSec: number): Promise<void>;
  /** Every unexpired `cdn:instance:{id}` value, by id. */
  listInstances(): Promise<Map<string, string>>;

  /** Small named facts about the deployment itself (`cdn:meta:{name}`), e.g. when it was seeded. */
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;

  /**
   * Adds a challenge TXT value (`cdn:acmetxt`, sorted set scored by expiry) or moves the
   * expiry of one already there. A content change: kind 'acme', `cdn:cname:dirty` published.
   */
  putAcmeTxt(txt: AcmeTxt): Promise<void>;
  /** Removes one value of `name`, or all of them when `value` is undefined; returns how many. */
  deleteAcmeTxt(name: string, value?: string): Promise<number>;
  /** Every value still unexpired at `now` (ms), sorted by name then value; drops expired ones. */
  listAcmeTxt(now: number): Promise<AcmeTxt[]>;

  /** acme-dns registrations, `cdn:acmedns:{username}`. */
  putAcmeDnsAccount(account: AcmeDnsAccount): Promise<void>;
  getAcmeDnsAccount(username: string): Promise<AcmeDnsAccount | undefined>;

  /** A domain's certificate state, `cdn:acme:{domain}` (JSON). */
  getAcmeState(domain: string): Promise<AcmeDomainState | undefined>;
  putAcmeState(state: AcmeDomainState): Promise<void>;

  /** `cdn:cert:{domain}`: a hash with fields cert, key, issued_at, expires_at. */
  getCertificate(domain: string): Promise<StoredCertificate | undefined>;
  putCertificate(domain: string, cert: StoredCertificate): Promise<void>;

  /**
   * The ACME account key (`cdn:acmeacct:global`) or a domain's certificate key
   * (`cdn:acmecertkey:{domain}`): the stored PEM, after storing `pem` if none was (first wins).
   */
  claimAcmeKey(which: { account: true } | { domain: string }, pem: string): Promise<string>;

  /** Like acquireLock/releaseLock, on `cdn:acme:lock:{domain}`: one issuance per domain. */
  acquireCertLock(domain: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseCertLock(domain: string, owner: string): Promise<void>;
}
