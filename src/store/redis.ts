// The Redis engine: every write is one Lua script run (its conditions, its ops, and its
// publish on the change channel, atomically), and a second connection turns any message on
// that channel into a remote change. Keys are the features' own (the Cirrus CDN schema).
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../lib/logger.js';
import {
  CHANGE_KINDS,
  type ChangeKind,
  type Condition,
  type Store,
  type StoreChange,
  type StreamEntry,
  type WriteOp,
  type WriteOptions,
} from './store.js';
import { channels } from './keys.js';
import { CirrusError, StoreUnavailableError, errorMessage } from '../lib/errors.js';
import { redisConnectionFromUrl, type RedisConnection } from './redis-connection.js';

/**
 * The atomic write. ARGV[1]: JSON {c: conditions, o: commands}. A condition is
 * ['eq', key, value|false], ['heq', key, field, value|false], ['in', key, member, bool] or
 * ['card', key, n]; a command is the argument list of one Redis command. Returns 1, or 0
 * when a condition failed (nothing written). Keys travel in ARGV: one Redis, no cluster.
 */
const APPLY_LUA = `
local req = cjson.decode(ARGV[1])
for _, c in ipairs(req.c) do
  local ok
  if c[1] == 'eq' then ok = redis.call('GET', c[2]) == c[3]
  elseif c[1] == 'heq' then ok = redis.call('HGET', c[2], c[3]) == c[4]
  elseif c[1] == 'in' then ok = (redis.call('SISMEMBER', c[2], c[3]) == 1) == c[4]
  else ok = redis.call('SCARD', c[2]) == c[3] end
  if not ok then return 0 end
end
for _, cmd in ipairs(req.o) do redis.call(unpack(cmd)) end
return 1
`;

/** SET NX PX, or a renewal when `owner` already holds the lock. */
const ACQUIRE_LOCK_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** Compare-and-delete: a lock that expired and was taken by another is left alone. */
const RELEASE_LOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface ScriptedCommands {
  cirrusApply(request: string): Promise<number>;
  cirrusAcquireLock(key: string, owner: string, ttlMs: number): Promise<number>;
  cirrusReleaseLock(key: string, owner: string): Promise<number>;
}

/** Members per command, well under Lua's unpack limit. */
const CHUNK = 1000;

/** Bounded so `start()` fails fast and a request during an outage errors instead of hanging. */
const CONNECT_TIMEOUT_MS = 5000;
const MAX_RETRIES_PER_REQUEST = 3;
const QUIT_TIMEOUT_MS = 2000;
/**
 * Retry-After of a command refused while the connection is down: the reconnect backoff is
 * capped at 2 s, so a retry after that finds a reconnected client if Redis is back.
 */
const UNAVAILABLE_RETRY_AFTER_SEC = 2;
/** Replies of a node in a failover (demoted, loading, cut from its master): try again. */
const TRANSIENT_REPLY = /^(READONLY|LOADING|MASTERDOWN|TRYAGAIN)\b/;

/** A Redis address (`url`) or a full connection (sentinels, credentials, TLS, WAIT). */
export type RedisStoreOptions = ({ url: string } | { connection: RedisConnection }) & {
  logger?: Logger | undefined;
};

/** Older writers publish arbitrary payloads (`1`); anything not ours means "everything". */
function parseDirty(message: string): { kind: ChangeKind; src?: string } {
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === 'object') {
      const { kind, src } = parsed as { kind?: unknown; src?: unknown };
      const valid = typeof kind === 'string' && (CHANGE_KINDS as readonly string[]).includes(kind);
      return {
        kind: valid ? (kind as ChangeKind) : 'all',
        ...(typeof src === 'string' ? { src } : {}),
      };
    }
  } catch {
    // Not JSON: a legacy payload.
  }
  return { kind: 'all' };
}

function chunks(name: string, key: string, items: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push([name, key, ...items.slice(i, i + CHUNK)]);
  return out;
}

function commands(o: WriteOp): string[][] {
  switch (o.op) {
    case 'set':
      return [
        o.ttlMs === undefined
          ? ['SET', o.key, o.value]
          : ['SET', o.key, o.value, 'PX', String(Math.max(1, Math.round(o.ttlMs)))],
      ];
    case 'setJson':
      return [['SET', o.key, JSON.stringify(o.value)]];
    case 'del':
      return [['DEL', o.key]];
    case 'hset': {
      const flat = Object.entries(o.fields).flat();
      return flat.length ? [['HSET', o.key, ...flat]] : [];
    }
    case 'hdel':
      return chunks('HDEL', o.key, o.fields);
    case 'sadd':
      return chunks('SADD', o.key, o.members);
    case 'srem':
      return chunks('SREM', o.key, o.members);
    case 'zadd':
      return [['ZADD', o.key, String(o.score), o.member]];
    case 'zrem':
      return chunks('ZREM', o.key, o.members);
    case 'zremMax':
      return [['ZREMRANGEBYSCORE', o.key, '-inf', String(o.max)]];
    case 'rpush': {
      const out = chunks('RPUSH', o.key, o.values);
      if (o.keep !== undefined) out.push(['LTRIM', o.key, String(-o.keep), '-1']);
      return out;
    }
    case 'xadd':
      return [
        ['XADD', o.key, 'MAXLEN', '~', String(o.maxLen), '*', ...Object.entries(o.fields).flat()],
      ];
  }
}

function condition(c: Condition): unknown[] {
  if ('size' in c) return ['card', c.key, c.size];
  if ('member' in c) return ['in', c.key, c.member, c.present];
  const value = c.equals ?? false;
  return c.field === undefined ? ['eq', c.key, value] : ['heq', c.key, c.field, value];
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly events = new EventEmitter();
  private readonly conn: RedisConnection;
  private readonly logger: Logger | undefined;
  /** Tags our publishes so our own echo is not announced again as a remote change. */
  private readonly instanceId = randomUUID();
  private client: Redis | undefined;
  private sub: Redis | undefined;
  private started = false;
  /** The last connection error of either connection: the reason given while unreachable. */
  private lastError: Error | undefined;
  /** Commands waiting for the connection to come back (see `ready`). */
  private readonly waiters = new Set<() => void>();

  constructor(opts: RedisStoreOptions) {
    this.conn = 'connection' in opts ? opts.connection : redisConnectionFromUrl(opts.url);
    this.logger = opts.logger;
  }

  /**
   * The command connection once it is ready. While it is down (a blip, a Sentinel failover)
   * a command waits up to `readyWaitMs` for it, then fails with StoreUnavailableError: a
   * command is never queued inside the client, so a write is sent whole (one script) or not
   * at all, and a caller learns of an outage within a bounded time.
   */
  private async ready(): Promise<Redis> {
    const c = this.client;
    if (!c || !this.started) throw new CirrusError('STORE', 'Redis store is not started');
    if (c.status === 'ready') return c;
    if (this.conn.readyWaitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, this.conn.readyWaitMs);
        this.waiters.add(done);
      });
      // `status` changed while we waited: re-read it (the narrowing above no longer holds).
      if (this.started && c === this.client && isReady(c)) return c;
    }
    throw this.unavailable();
  }

  /**
   * One command on the ready connection. A connection lost under it, or a node that is not
   * a writable master any more (a failover under way), is STORE_UNAVAILABLE; any other reply
   * error is the caller's.
   */
  private async run<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = await this.ready();
    try {
      return await fn(r);
    } catch (err) {
      throw this.classify(err);
    }
  }

  private classify(err: unknown): unknown {
    if (err instanceof CirrusError) return err;
    // ioredis types ReplyError as `any`: recognise it by name (redis-errors sets it).
    const reply = err instanceof Error && err.name === 'ReplyError';
    if (reply && !TRANSIENT_REPLY.test(err.message)) return err;
    return this.unavailable(err);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** "redis HOST:PORT: <the last connection error>", or the connection's state when none. */
  private unavailable(cause?: unknown): StoreUnavailableError {
    const c = this.client;
    const where = this.conn.where;
    const reason = this.lastError
      ? errorMessage(this.lastError)
      : `connection lost (${c?.status ?? 'closed'})`;
    return new StoreUnavailableError(
      `redis ${where}: ${reason}`,
      UNAVAILABLE_RETRY_AFTER_SEC,
      cause ?? this.lastError,
    );
  }

  private async scripted(): Promise<ScriptedCommands & Redis> {
    return (await this.ready()) as ScriptedCommands & Redis;
  }

  /**
   * WAIT until the replicas connected now (at most `waitReplicas`) hold every write this
   * connection made: those are the nodes Sentinel may promote, so a write they confirmed
   * survives a failover. With no replica connected there is nothing to promote and nothing
   * to wait for (a failover right after the master lost its replica is the one case left).
   * ROLE needs `+role` for the ACL user; without it every configured replica is waited for.
   */
  private async replicated(client: Redis): Promise<boolean> {
    const want = this.conn.waitReplicas;
    if (want === 0) return true;
    let need = want;
    try {
      const role = (await client.call('ROLE')) as unknown[];
      if (role[0] === 'master' && Array.isArray(role[2])) need = Math.min(want, role[2].length);
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ReplyError')) throw err;
    }
    if (need === 0) return true;
    const got = Number(await client.call('WAIT', need, this.conn.waitTimeoutMs));
    return got >= need;
  }

  async start(): Promise<void> {
    if (this.client) throw new CirrusError('STORE', 'Redis store already started');
    const shown = this.conn.where;
    this.lastError = undefined;
    const retry = (times: number) => (this.started ? Math.min(times * 100, 2000) : null);
    const options: RedisOptions = {
      ...this.conn.options,
      lazyConnect: true,
      // A command while disconnected fails at once (see the `redis` getter) instead of waiting
      // for a reconnect; the reconnect itself goes on.
      enableOfflineQueue: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
      // No retries until start() succeeded: start() reports an unreachable Redis at once
      // (STORE_UNAVAILABLE), and the caller decides (serve last-known-good, or exit). Afterwards
      // reconnect forever with a capped backoff; the subscriber resubscribes itself.
      retryStrategy: retry,
      // With Sentinel: the same when every sentinel is unreachable.
      sentinelRetryStrategy: retry,
    };
    const client = new Redis(options);
    this.client = client;
    const sub = client.duplicate();
    this.sub = sub;

    // One line per distinct error, not one per reconnect attempt during an outage.
    let lastLogged: string | undefined;
    const onError = (role: string) => (err: Error) => {
      this.lastError = err;
      if (!this.started || err.message === lastLogged) return;
      lastLogged = err.message;
      this.logger?.warn({ err, role, url: shown }, 'redis connection error');
    };
    client.on('error', onError('commands'));
    sub.on('error', onError('subscriber'));
    // Messages published while we were disconnected are lost: assume everything changed,
    // once both connections are ready (a command is refused until the client is).
    let subscribedOnce = false;
    let resyncPending = false;
    const resync = () => {
      if (!resyncPending || client.status !== 'ready' || sub.status !== 'ready') return;
      resyncPending = false;
      this.emit('all', 'remote');
    };
    client.on('ready', () => {
      lastLogged = undefined;
      this.lastError = undefined;
      this.wake();
      resync();
    });
    if (this.conn.sentinel)
      client.on('+node', () => this.logger?.info({ master: shown }, 'redis: following the master'));
    sub.on('ready', () => {
      if (subscribedOnce) resyncPending = true;
      subscribedOnce = true;
      resync();
    });
    // A connection that gives up ('end': e.g. ended by a failover while connecting) is
    // started again while the store runs; the subscriber subscribes again.
    const revive = (conn: Redis, role: string, then: () => Promise<unknown>) =>
      conn.on('end', () => {
        if (!this.started || this.client !== client) return;
        this.logger?.warn({ role, url: shown }, 'redis connection ended; reconnecting');
        setTimeout(() => {
          if (!this.started || this.client !== client || conn.status !== 'end') return;
          conn
            .connect()
            .then(then)
            .catch(() => undefined);
        }, 200).unref();
      });
    revive(client, 'commands', async () => undefined);
    revive(sub, 'subscriber', () => sub.subscribe(channels.dirty));
    sub.on('message', (channel: string, message: string) => {
      if (channel !== channels.dirty) return;
      const { kind, src } = parseDirty(message);
      if (src === this.instanceId) return;
      this.emit(kind, 'remote');
    });

    try {
      await Promise.all([client.connect(), sub.connect()]);
      await sub.subscribe(channels.dirty);
      client.defineCommand('cirrusApply', { numberOfKeys: 0, lua: APPLY_LUA });
      client.defineCommand('cirrusAcquireLock', { numberOfKeys: 1, lua: ACQUIRE_LOCK_LUA });
      client.defineCommand('cirrusReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_LUA });
      this.started = true;
    } catch (err) {
      await this.disconnect();
      const reason = this.lastError ? errorMessage(this.lastError) : errorMessage(err);
      throw new StoreUnavailableError(
        `cannot connect to Redis at ${this.conn.label}: ${reason}`,
        UNAVAILABLE_RETRY_AFTER_SEC,
        this.lastError ?? err,
      );
    }
  }

  async stop(): Promise<void> {
    await this.disconnect();
    this.events.removeAllListeners();
  }

  private async disconnect(): Promise<void> {
    this.started = false;
    this.wake();
    const conns = [this.sub, this.client].filter((c): c is Redis => c !== undefined);
    this.sub = undefined;
    this.client = undefined;
    await Promise.all(conns.map(closeConnection));
  }

  /** Every read goes to the server: there is nothing to catch up on. */
  async catchUp(): Promise<void> {}

  onChange(listener: (change: StoreChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(kind: ChangeKind, origin: 'local' | 'remote'): void {
    this.events.emit('change', { kind, origin } satisfies StoreChange);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.run((r) => r.get(key))) ?? undefined;
  }

  async getJson(keys: readonly string[]): Promise<unknown[]> {
    const raws = await this.mget(keys);
    return raws.map((raw, i) => {
      if (raw === undefined) return undefined;
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        // One unreadable record must not stop every other from being read.
        this.logger?.warn({ key: keys[i] }, 'skipping unreadable JSON value');
        return undefined;
      }
    });
  }

  async jsonOfMembers(setKey: string, prefix: string): Promise<ReadonlyMap<string, unknown>> {
    const all = await this.smembers(setKey);
    const found = await this.getJson(all.map((m) => prefix + m));
    const out = new Map<string, unknown>();
    found.forEach((v, i) => {
      if (v !== undefined) out.set(all[i] as string, v);
    });
    return out;
  }

  async mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    return (await this.run((r) => r.mget(...keys))).map((v) => v ?? undefined);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.run((r) => r.exists(key))) === 1;
  }

  async hget(key: string, field: string): Promise<string | undefined> {
    return (await this.run((r) => r.hget(key, field))) ?? undefined;
  }

  async hgetall(keys: readonly string[]): Promise<Record<string, string>[]> {
    if (keys.length === 0) return [];
    const results = await this.run((r) => {
      const p = r.pipeline();
      for (const key of keys) p.hgetall(key);
      return p.exec();
    });
    return (results ?? []).map(([err, value]) => {
      if (err)
        throw new CirrusError('STORE', `Redis command failed: ${err.message}`, { cause: err });
      return value as Record<string, string>;
    });
  }

  async smembers(key: string): Promise<string[]> {
    return this.run((r) => r.smembers(key));
  }

  async sismember(key: string, member: string): Promise<boolean> {
    return (await this.run((r) => r.sismember(key, member))) === 1;
  }

  async scard(key: string): Promise<number> {
    return this.run((r) => r.scard(key));
  }

  async zrange(key: string): Promise<{ member: string; score: number }[]> {
    const flat = await this.run((r) => r.zrange(key, 0, -1, 'WITHSCORES'));
    const out: { member: string; score: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
    return out;
  }

  async lrange(key: string): Promise<string[]> {
    return this.run((r) => r.lrange(key, 0, -1));
  }

  async xrange(key: string, count?: number): Promise<StreamEntry[]> {
    const raw =
      count === undefined
        ? await this.run((r) => r.xrange(key, '-', '+'))
        : (await this.run((r) => r.xrevrange(key, '+', '-', 'COUNT', count))).reverse();
    return raw.map(([id, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2)
        fields[flat[i] as string] = flat[i + 1] as string;
      return { id, fields };
    });
  }

  async write(ops: readonly WriteOp[], opts: WriteOptions = {}): Promise<boolean> {
    const o = ops.flatMap(commands);
    if (opts.change)
      o.push([
        'PUBLISH',
        channels.dirty,
        JSON.stringify({ kind: opts.change, src: this.instanceId }),
      ]);
    for (const p of opts.publish ?? []) o.push(['PUBLISH', p.channel, p.message]);
    const c = (opts.if ?? []).map(condition);
    if (o.length === 0 && c.length === 0) return true;
    const client = await this.scripted();
    let done: boolean;
    let kept: boolean;
    try {
      done = Number(await client.cirrusApply(JSON.stringify({ c, o }))) === 1;
      kept = !done || (await this.replicated(client));
    } catch (err) {
      // The connection went away under the script: Redis ran all of it or none of it.
      throw this.classify(err);
    }
    if (done && opts.change) this.emit(opts.change, 'local');
    if (!kept)
      throw new StoreUnavailableError(
        `redis ${this.conn.where}: the write reached the master but not every connected replica (up to ${this.conn.waitReplicas}) confirmed it within ${this.conn.waitTimeoutMs} ms; a failover now could lose it`,
        UNAVAILABLE_RETRY_AFTER_SEC,
      );
    return done;
  }

  /**
   * Held only once the lock is on the configured replicas too: a lock lost in a failover
   * would let a second instance take it while the first still acts on it.
   */
  async acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.run(async (r) => {
      const client = r as ScriptedCommands & Redis;
      if (Number(await client.cirrusAcquireLock(key, owner, ttlMs)) !== 1) return false;
      return this.replicated(client);
    });
  }

  async releaseLock(key: string, owner: string): Promise<void> {
    await this.run((r) => (r as ScriptedCommands & Redis).cirrusReleaseLock(key, owner));
  }
}

function isReady(c: Redis): boolean {
  return c.status === 'ready';
}

/** QUIT when the connection is up (pending replies flushed), else just tear it down. */
async function closeConnection(c: Redis): Promise<void> {
  // A TLS alert can arrive on a socket being torn down, after the client stopped listening
  // to it: it must not become an uncaught exception.
  c.stream?.on('error', () => undefined);
  if (c.status === 'end') return;
  if (c.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
    });
    try {
      await Promise.race([c.quit().then(() => undefined), timeout]);
    } catch {
      // Falls through to disconnect: the connection is going away either way.
    } finally {
      clearTimeout(timer);
    }
  }
  c.disconnect();
}
