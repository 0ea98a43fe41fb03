// The storage contract every feature builds on: keys holding strings or JSON values, hashes,
// sets, sorted sets and lists, one atomic write of many keys guarded by conditions, leases,
// change events and pub/sub. It knows no feature: the key names and what they hold belong
// to the features' repositories; one contract suite (test/store-contract.ts) runs on each engine.

/** What changed, as the writer names it; a reader that cannot tell receives 'all'. */
export type ChangeKind =
  'domains' | 'nodes' | 'zone' | 'tokens' | 'policy' | 'health' | 'acme' | 'xfr' | 'all';

export const CHANGE_KINDS: readonly ChangeKind[] = [
  'domains',
  'nodes',
  'zone',
  'tokens',
  'policy',
  'health',
  'acme',
  'xfr',
  'all',
];

export interface StoreChange {
  kind: ChangeKind;
  /** Where the change came from: this process, or another writer (pub/sub, the file). */
  origin: 'local' | 'remote';
}

/** One step of an atomic write; each does what the Redis command of the same name does. */
export type WriteOp =
  /** A string value; with ttlMs the key expires on its own (the embedded engine keeps it in memory only). */
  | { op: 'set'; key: string; value: string; ttlMs?: number }
  /** A JSON value (stored as its JSON text in Redis); the embedded engine keeps a copy of it parsed. */
  | { op: 'setJson'; key: string; value: unknown }
  | { op: 'del'; key: string }
  | { op: 'hset'; key: string; fields: Record<string, string> }
  | { op: 'hdel'; key: string; fields: string[] }
  | { op: 'sadd'; key: string; members: string[] }
  | { op: 'srem'; key: string; members: string[] }
  | { op: 'zadd'; key: string; member: string; score: number }
  | { op: 'zrem'; key: string; members: string[] }
  /** Removes the members scored at most `max`. */
  | { op: 'zremMax'; key: string; max: number }
  /** Appends to a list, then keeps its last `keep` items when given. */
  | { op: 'rpush'; key: string; values: string[]; keep?: number }
  /**
   * Appends an entry with a new id (`<ms>-<seq>`, increasing) to a stream, keeping about its
   * last `maxLen` entries (Redis: `XADD key MAXLEN ~ maxLen * field value …`, which may keep
   * a few more; the embedded engine keeps exactly `maxLen`, as a list of JSON entries).
   */
  | { op: 'xadd'; key: string; fields: Record<string, string>; maxLen: number };

/** One stream entry as `xrange` returns it. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** What must hold for a write to happen, checked in the same atomic step. */
export type Condition =
  /** A string value, or a hash field when `field` is given; undefined: absent. */
  | { key: string; field?: string; equals: string | undefined }
  | { key: string; member: string; present: boolean }
  /** A set's number of members. */
  | { key: string; size: number };

export interface WriteOptions {
  /** Conditions checked atomically with the write; when one fails nothing is written. */
  if?: readonly Condition[];
  /**
   * The change to announce (locally, and to other instances on the change channel in the
   * same atomic step); none for bookkeeping that changes no content.
   */
  change?: ChangeKind;
  /** Messages published in the same atomic step, for readers outside Cirrus (the edge). */
  publish?: readonly { channel: string; message: string }[];
  /**
   * The embedded engine applies it in memory and persists it with the next write that is not
   * lazy (a crash or a foreign write may lose it); Redis writes it as any other.
   */
  lazy?: boolean;
  /**
   * About this process only: the embedded engine keeps the keys it writes in memory and never
   * in the file (as it does keys with a TTL), through adoptions of other processes' writes;
   * Redis writes them as any other.
   */
  volatile?: boolean;
}

export interface Store {
  readonly kind: 'embedded' | 'redis';
  start(): Promise<void>;
  /** Writes anything still pending; safe after a failed or partial start, and twice. */
  stop(): Promise<void>;
  onChange(listener: (change: StoreChange) => void): () => void;
  /**
   * Takes in what another writer stored since this instance last looked, before a read that
   * must not miss it. The embedded engine reads its file when it changed (a stat when it did
   * not); Redis is always current and has nothing to do.
   */
  catchUp(): Promise<void>;

  get(key: string): Promise<string | undefined>;
  /**
   * JSON values in key order, undefined for a missing or unreadable one. With `shared`, the
   * embedded engine hands out its own objects: the caller promises never to change them.
   */
  getJson(keys: readonly string[], opts?: { shared?: boolean }): Promise<unknown[]>;
  /**
   * The JSON value at `prefix + member` of every member of the set `setKey` that has one, by
   * member, in no particular order; the values shared as getJson's `shared`. The embedded
   * engine hands out an index it keeps up to date as it writes (a large collection is read
   * without a lookup per member): read it at once, before the next write.
   */
  jsonOfMembers(setKey: string, prefix: string): Promise<ReadonlyMap<string, unknown>>;
  /** String values in key order. */
  mget(keys: readonly string[]): Promise<(string | undefined)[]>;
  exists(key: string): Promise<boolean>;
  hget(key: string, field: string): Promise<string | undefined>;
  /** Whole hashes in key order ({} for a missing one). */
  hgetall(keys: readonly string[]): Promise<Record<string, string>[]>;
  smembers(key: string): Promise<string[]>;
  sismember(key: string, member: string): Promise<boolean>;
  scard(key: string): Promise<number>;
  /** Members with their scores, lowest score first. */
  zrange(key: string): Promise<{ member: string; score: number }[]>;
  lrange(key: string): Promise<string[]>;
  /** A stream's entries, oldest first; with `count`, the newest `count` of them. */
  xrange(key: string, count?: number): Promise<StreamEntry[]>;

  /** Applies every op or none; false when a condition did not hold. */
  write(ops: readonly WriteOp[], opts?: WriteOptions): Promise<boolean>;

  /**
   * Takes or renews the lease `key` for `owner` for ttlMs; true when `owner` holds it
   * afterwards. A lease expires on its own when its owner dies.
   */
  acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease only if `owner` holds it. */
  releaseLock(key: string, owner: string): Promise<void>;
}
