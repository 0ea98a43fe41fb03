// The embedded engine's data: the same keys and value types as Redis, held in memory, with
// the atomic write of kv.ts applied synchronously (nothing else runs between its check and
// its ops). Its file form is `KeyspaceFile`; the JSON values (100,000 domains at scale)
// sit in one Map so the state file is written and read a slice at a time.
import type { Condition, WriteOp } from './store.js';

/** The state file's form (version 2). JSON values are replaced whole, never changed in place. */
export interface KeyspaceFile {
  version: 2;
  strings: Record<string, string>;
  json: Record<string, unknown> | Map<string, unknown>;
  hashes: Record<string, Record<string, string>>;
  /**
   * Members of each set; a large set is handed over as the keyspace's own Set (see
   * `Keyspace.toFile`), which the keyspace never changes afterwards.
   */
  sets: Record<string, readonly string[] | ReadonlySet<string>>;
  zsets: Record<string, Record<string, number>>;
  lists: Record<string, string[]>;
}

/**
 * The id after `last` (a stream entry's JSON) at `now`: `<ms>-<seq>`, strictly increasing
 * as Redis's are, also when the clock stands still or steps back.
 */
function nextStreamId(last: string | undefined, now: number): string {
  let ms = -1;
  let seq = 0;
  if (last !== undefined) {
    try {
      const m = /^(\d+)-(\d+)$/.exec((JSON.parse(last) as { id?: string }).id ?? '');
      if (m) [ms, seq] = [Number(m[1]), Number(m[2])];
    } catch {
      // Not an entry: the stream starts afresh.
    }
  }
  return now > ms ? `${now}-0` : `${ms}-${seq + 1}`;
}

/** A stream entry as the embedded engine keeps it in a list (see WriteOp 'xadd'). */
export function parseStreamEntry(raw: string): { id: string; fields: Record<string, string> } {
  const e = JSON.parse(raw) as { id: string; fields: Record<string, string> };
  return { id: e.id, fields: e.fields };
}

export const SLICED_MEMBERS: ReadonlySet<string> = new Set(['json']);

/**
 * Sets with more members than this are handed to `toFile`'s caller as they are rather than
 * copied: copying and stringifying the 100,000-member set of domain names at once held the
 * event loop up to 200 ms per state-file write under load.
 */
const SET_COPY_MAX = 1000;

const entries = <T>(m: Record<string, T> | Map<string, T> | undefined): Iterable<[string, T]> =>
  m instanceof Map ? m : Object.entries(m ?? {});

/** A set's members that have a JSON value at `prefix + member`, with it; kept up to date by apply. */
interface Collection {
  setKey: string;
  prefix: string;
  values: Map<string, unknown>;
}

export class Keyspace {
  /** The collections read so far (jsonOfMembers), by set key and prefix. */
  private readonly collections = new Map<string, Collection>();
  readonly strings = new Map<string, string>();
  json = new Map<string, unknown>();
  readonly hashes = new Map<string, Map<string, string>>();
  readonly sets = new Map<string, Set<string>>();
  readonly zsets = new Map<string, Map<string, number>>();
  readonly lists = new Map<string, string[]>();
  /** Keys written with a TTL: expiry in ms since the epoch. */
  readonly expires = new Map<string, number>();
  /** Keys held in memory only (written volatile or with a TTL): never in the file. */
  readonly volatile = new Set<string>();
  /** Sets handed out by toFile: never changed again; the next write replaces them with a copy. */
  private readonly handedOut = new WeakSet<Set<string>>();

  static fromFile(file: Partial<KeyspaceFile>): Keyspace {
    const k = new Keyspace();
    for (const [key, v] of entries(file.strings)) k.strings.set(key, v);
    // A Map parsed a slice at a time is taken as it is: copying 100,000 entries blocks.
    if (file.json instanceof Map) k.json = file.json;
    else for (const [key, v] of entries(file.json)) k.json.set(key, v);
    for (const [key, v] of entries(file.hashes)) k.hashes.set(key, new Map(Object.entries(v)));
    for (const [key, v] of entries(file.sets)) k.sets.set(key, new Set(v));
    for (const [key, v] of entries(file.zsets)) k.zsets.set(key, new Map(Object.entries(v)));
    for (const [key, v] of entries(file.lists)) k.lists.set(key, [...v]);
    return k;
  }

  /**
   * The persisted keys in the file's form; `json` is this keyspace's own Map (its values
   * are replaced, never changed in place), and so are sets of more than SET_COPY_MAX
   * members (copy on write: a set handed out is never changed again); everything else is
   * copied.
   */
  toFile(): KeyspaceFile {
    const strings: Record<string, string> = {};
    for (const [key, v] of this.strings) if (!this.volatile.has(key)) strings[key] = v;
    const obj = <V, T>(m: Map<string, V>, f: (v: V) => T): Record<string, T> => {
      const out: Record<string, T> = {};
      for (const [key, v] of m) if (!this.volatile.has(key)) out[key] = f(v);
      return out;
    };
    return {
      version: 2,
      strings,
      json: this.json,
      hashes: obj(this.hashes, (h) => Object.fromEntries(h)),
      sets: obj(this.sets, (s): readonly string[] | ReadonlySet<string> => {
        if (s.size <= SET_COPY_MAX) return [...s];
        this.handedOut.add(s);
        return s;
      }),
      zsets: obj(this.zsets, (z) => Object.fromEntries(z)),
      lists: obj(this.lists, (l) => [...l]),
    };
  }

  /** Drops `key` when it has expired; true when it is (still) live or never expired. */
  private live(key: string, now = Date.now()): boolean {
    const at = this.expires.get(key);
    if (at === undefined || at > now) return true;
    this.delete(key);
    return false;
  }

  /** Takes over the volatile keys of `from` (the keyspace this one replaces). */
  carryVolatile(from: Keyspace): void {
    for (const key of from.volatile) {
      if (!from.exists(key)) continue;
      this.delete(key);
      const maps = [
        [from.strings, this.strings],
        [from.json, this.json],
        [from.hashes, this.hashes],
        [from.sets, this.sets],
        [from.zsets, this.zsets],
        [from.lists, this.lists],
      ] as [Map<string, unknown>, Map<string, unknown>][];
      for (const [src, dst] of maps) if (src.has(key)) dst.set(key, src.get(key));
      const at = from.expires.get(key);
      if (at !== undefined) this.expires.set(key, at);
      this.volatile.add(key);
    }
  }

  delete(key: string): boolean {
    this.expires.delete(key);
    this.volatile.delete(key);
    return (
      [this.strings, this.json, this.hashes, this.sets, this.zsets, this.lists] as Map<
        string,
        unknown
      >[]
    ).reduce((found, m) => m.delete(key) || found, false);
  }

  getString(key: string): string | undefined {
    if (!this.live(key)) return undefined;
    const s = this.strings.get(key);
    if (s !== undefined) return s;
    return this.json.has(key) ? JSON.stringify(this.json.get(key)) : undefined;
  }

  getJson(key: string): unknown {
    if (this.json.has(key)) return this.json.get(key);
    const s = this.getString(key);
    if (s === undefined) return undefined;
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return undefined;
    }
  }

  exists(key: string): boolean {
    if (!this.live(key)) return false;
    return (
      this.strings.has(key) ||
      this.json.has(key) ||
      this.hashes.has(key) ||
      this.sets.has(key) ||
      this.zsets.has(key) ||
      this.lists.has(key)
    );
  }

  hash(key: string): Map<string, string> | undefined {
    return this.hashes.get(key);
  }

  set(key: string): ReadonlySet<string> | undefined {
    return this.sets.get(key);
  }

  /** The set at `key` to change in place: a copy in its stead when toFile handed it out. */
  private writableSet(key: string): Set<string> | undefined {
    const s = this.sets.get(key);
    if (!s || !this.handedOut.has(s)) return s;
    const copy = new Set(s);
    this.sets.set(key, copy);
    return copy;
  }

  zset(key: string): Map<string, number> | undefined {
    return this.zsets.get(key);
  }

  list(key: string): string[] | undefined {
    return this.lists.get(key);
  }

  /** See Store.jsonOfMembers: built on first use, then maintained by every write. */
  jsonOfMembers(setKey: string, prefix: string): ReadonlyMap<string, unknown> {
    const id = `${setKey}\u0000${prefix}`;
    let c = this.collections.get(id);
    if (!c) {
      c = { setKey, prefix, values: new Map() };
      for (const m of this.sets.get(setKey) ?? []) this.index(c, m);
      this.collections.set(id, c);
    }
    return c.values;
  }

  private index(c: Collection, member: string): void {
    const v = this.getJson(c.prefix + member);
    if (v === undefined) c.values.delete(member);
    else c.values.set(member, v);
  }

  /** Brings the collections up to date after `o` was applied. */
  private track(o: WriteOp): void {
    for (const c of this.collections.values()) {
      if (o.key === c.setKey) {
        if (o.op === 'sadd') for (const m of o.members) this.index(c, m);
        else if (o.op === 'srem') for (const m of o.members) c.values.delete(m);
        else if (!this.sets.has(c.setKey)) c.values.clear();
      } else if (o.key.startsWith(c.prefix)) {
        const m = o.key.slice(c.prefix.length);
        if (this.sets.get(c.setKey)?.has(m)) this.index(c, m);
      }
    }
  }

  holds(c: Condition): boolean {
    if ('size' in c) return (this.sets.get(c.key)?.size ?? 0) === c.size;
    if ('member' in c) return (this.sets.get(c.key)?.has(c.member) ?? false) === c.present;
    const now =
      c.field === undefined ? this.getString(c.key) : this.hashes.get(c.key)?.get(c.field);
    return now === c.equals;
  }

  /**
   * Applies ops in order, as Redis would. Values are copied in by the engine before the
   * ops reach here, so replaying them over another keyspace is safe.
   */
  apply(ops: readonly WriteOp[], now = Date.now()): void {
    for (const o of ops) {
      switch (o.op) {
        case 'set':
          this.delete(o.key);
          this.strings.set(o.key, o.value);
          if (o.ttlMs !== undefined) {
            this.expires.set(o.key, now + o.ttlMs);
            this.volatile.add(o.key);
          }
          break;
        case 'setJson':
          this.delete(o.key);
          this.json.set(o.key, o.value);
          break;
        case 'del':
          this.delete(o.key);
          break;
        case 'hset': {
          const h = this.hashes.get(o.key) ?? new Map<string, string>();
          for (const [f, v] of Object.entries(o.fields)) h.set(f, v);
          this.hashes.set(o.key, h);
          break;
        }
        case 'hdel': {
          const h = this.hashes.get(o.key);
          if (!h) break;
          for (const f of o.fields) h.delete(f);
          if (h.size === 0) this.hashes.delete(o.key);
          break;
        }
        case 'sadd': {
          const s = this.writableSet(o.key) ?? new Set<string>();
          for (const m of o.members) s.add(m);
          this.sets.set(o.key, s);
          break;
        }
        case 'srem': {
          const s = this.writableSet(o.key);
          if (!s) break;
          for (const m of o.members) s.delete(m);
          if (s.size === 0) this.sets.delete(o.key);
          break;
        }
        case 'zadd': {
          const z = this.zsets.get(o.key) ?? new Map<string, number>();
          z.set(o.member, o.score);
          this.zsets.set(o.key, z);
          break;
        }
        case 'zrem':
        case 'zremMax': {
          const z = this.zsets.get(o.key);
          if (!z) break;
          if (o.op === 'zrem') for (const m of o.members) z.delete(m);
          else for (const [m, score] of z) if (score <= o.max) z.delete(m);
          if (z.size === 0) this.zsets.delete(o.key);
          break;
        }
        case 'rpush': {
          const l = [...(this.lists.get(o.key) ?? []), ...o.values];
          this.lists.set(o.key, o.keep === undefined ? l : l.slice(Math.max(0, l.length - o.keep)));
          break;
        }
        case 'xadd': {
          const prev = this.lists.get(o.key) ?? [];
          const entry = { id: nextStreamId(prev.at(-1), now), fields: { ...o.fields } };
          const l = [...prev, JSON.stringify(entry)];
          this.lists.set(o.key, l.slice(Math.max(0, l.length - Math.max(1, o.maxLen))));
          break;
        }
      }
      if (this.collections.size > 0) this.track(o);
    }
  }
}
