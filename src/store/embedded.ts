// The embedded engine: the Redis keyspace in memory (keyspace.ts), optionally persisted to
// one JSON file (state-file.ts). Keys written with a TTL and leases live in memory only:
// they are about this one process, and expire like their Redis keys.
import { EventEmitter } from 'node:events';
import type { Logger } from '../lib/logger.js';
import type {
  ChangeKind,
  Store,
  StoreChange,
  StreamEntry,
  WriteOp,
  WriteOptions,
} from './store.js';
import { Keyspace, SLICED_MEMBERS, parseStreamEntry, type KeyspaceFile } from './keyspace.js';
import { StateFile } from './state-file.js';

/**
 * Turns a state file of another form (an older version) into the keyspace's; registered by
 * the composition root, which knows the features whose data older files hold.
 */
export type StateFileMigration = (parsed: Record<string, unknown>) => Promise<KeyspaceFile>;

export interface EmbeddedStoreOptions {
  /** JSON file to persist to; undefined keeps everything in memory. */
  file?: string | undefined;
  /** How often to look for writes by other processes. */
  watchIntervalMs?: number;
  /** How long after a change the file is written (default 100 ms); see StateFileOptions. */
  writeDelayMs?: number;
  /** How long an unreadable foreign file is waited for (default 5 s) before it is set aside. */
  unreadableGraceMs?: number;
  /** Reads a file whose `version` is not 2. */
  migrate?: StateFileMigration | undefined;
  logger?: Logger | undefined;
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded';
  private keyspace = new Keyspace();
  private readonly events = new EventEmitter();
  private readonly file: StateFile<Keyspace> | undefined;
  /** Lease key → owner and expiry. */
  private readonly locks = new Map<string, { owner: string; expires: number }>();

  constructor(private readonly opts: EmbeddedStoreOptions = {}) {
    const file = opts.file;
    if (!file) return;
    this.file = new StateFile<Keyspace>(
      {
        file,
        watchIntervalMs: opts.watchIntervalMs,
        writeDelayMs: opts.writeDelayMs,
        unreadableGraceMs: opts.unreadableGraceMs,
        logger: opts.logger,
      },
      {
        slicedMembers: SLICED_MEMBERS,
        fromFile: (parsed) => this.fromFile(parsed),
        install: (next) => {
          // Volatile keys are never in the file: they stay as this process wrote them.
          next.carryVolatile(this.keyspace);
          this.keyspace = next;
        },
        toFile: () => this.keyspace.toFile(),
        adopted: () => this.emit('all', 'remote'),
      },
    );
  }

  private async fromFile(parsed: Record<string, unknown>): Promise<Keyspace> {
    if (parsed.version === 2) return Keyspace.fromFile(parsed as Partial<KeyspaceFile>);
    if (!this.opts.migrate)
      throw new Error(`state file version ${String(parsed.version)} is not 2`);
    return Keyspace.fromFile(await this.opts.migrate(parsed));
  }

  async start(): Promise<void> {
    await this.file?.start();
  }

  /** Writes every change still pending before returning (see flush). */
  async stop(): Promise<void> {
    try {
      await this.file?.stop();
    } finally {
      this.events.removeAllListeners();
    }
  }

  /**
   * Writes every pending change now and waits for it. Rejects, naming the file, when it
   * cannot be written; the changes stay pending and are retried.
   */
  async flush(): Promise<void> {
    await this.file?.flush();
  }

  /** The persisted keys in the state file's form. */
  toFile(): KeyspaceFile {
    return this.keyspace.toFile();
  }

  async catchUp(): Promise<void> {
    await this.file?.adoptForeign();
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(kind: ChangeKind, origin: 'local' | 'remote' = 'local'): void {
    this.events.emit('change', { kind, origin } satisfies StoreChange);
  }

  async get(key: string): Promise<string | undefined> {
    return this.keyspace.getString(key);
  }

  async getJson(keys: readonly string[], opts: { shared?: boolean } = {}): Promise<unknown[]> {
    const k = this.keyspace;
    return opts.shared
      ? keys.map((key) => k.getJson(key))
      : keys.map((key) => structuredClone(k.getJson(key)));
  }

  async jsonOfMembers(setKey: string, prefix: string): Promise<ReadonlyMap<string, unknown>> {
    return this.keyspace.jsonOfMembers(setKey, prefix);
  }

  async mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    return keys.map((key) => this.keyspace.getString(key));
  }

  async exists(key: string): Promise<boolean> {
    return this.keyspace.exists(key);
  }

  async hget(key: string, field: string): Promise<string | undefined> {
    return this.keyspace.hash(key)?.get(field);
  }

  async hgetall(keys: readonly string[]): Promise<Record<string, string>[]> {
    return keys.map((key) => Object.fromEntries(this.keyspace.hash(key) ?? []));
  }

  async smembers(key: string): Promise<string[]> {
    return [...(this.keyspace.set(key) ?? [])];
  }

  async sismember(key: string, member: string): Promise<boolean> {
    return this.keyspace.set(key)?.has(member) ?? false;
  }

  async scard(key: string): Promise<number> {
    return this.keyspace.set(key)?.size ?? 0;
  }

  async zrange(key: string): Promise<{ member: string; score: number }[]> {
    const z = this.keyspace.zset(key);
    if (!z) return [];
    return [...z]
      .map(([member, score]) => ({ member, score }))
      .sort(
        (a, b) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0),
      );
  }

  async lrange(key: string): Promise<string[]> {
    return [...(this.keyspace.list(key) ?? [])];
  }

  async xrange(key: string, count?: number): Promise<StreamEntry[]> {
    const l = this.keyspace.list(key) ?? [];
    return (count === undefined ? l : l.slice(Math.max(0, l.length - count))).map(parseStreamEntry);
  }

  /**
   * Checked and applied in one synchronous step. The ops are copied first: the caller may
   * change its objects afterwards, and a foreign write adopted later replays them.
   */
  async write(ops: readonly WriteOp[], opts: WriteOptions = {}): Promise<boolean> {
    if (opts.if && !opts.if.every((c) => this.keyspace.holds(c))) return false;
    const copy = structuredClone(ops);
    const now = Date.now();
    this.keyspace.apply(copy, now);
    if (opts.volatile) for (const o of copy) this.keyspace.volatile.add(o.key);
    const durable = opts.volatile
      ? []
      : copy.filter((o) => !(o.op === 'set' && o.ttlMs !== undefined));
    if (this.file && !opts.lazy && durable.length > 0)
      this.file.changed((k) => k.apply(durable, now));
    if (opts.change) this.emit(opts.change);
    return true;
  }

  async acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const cur = this.locks.get(key);
    if (cur && cur.expires > now && cur.owner !== owner) return false;
    this.locks.set(key, { owner, expires: now + ttlMs });
    return true;
  }

  async releaseLock(key: string, owner: string): Promise<void> {
    if (this.locks.get(key)?.owner === owner) this.locks.delete(key);
  }
}
