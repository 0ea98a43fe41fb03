// The Redis store: the key schema of existing Cirrus CDN deployments (keys.ts), one MULTI per
// write with its `cdn:cname:dirty` publish inside, and a second connection that turns any
// message on that channel into a remote change. Rebuilding snapshots is left to the listener.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeKind, Store, StoreChange, StoreState } from './store.js';
import type { Domain, EdgeNode, HealthView, NodeHealth, NodeProbe, TokenRecord } from './model.js';
import type { GslbPolicy } from '../gslb/policy-model.js';
import { channels, keys } from './keys.js';
import { edgeChannels } from '../edge/keys.js';
import { readPolicy } from './policy-record.js';
import type { JournalEntry, ZoneVersion } from '../xfr/journal.js';
import type { PeersDocument } from '../xfr/peers.js';
import { CirrusError, errorMessage } from '../lib/errors.js';
import type { AcmeDnsAccount, AcmeDomainState, AcmeTxt, StoredCertificate } from '../acme/model.js';

const CHANGE_KINDS: readonly ChangeKind[] = [
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

/**
 * Optional node hash fields putNode owns (HDEL'd when absent). The health checker's fields
 * (HEALTH_FIELDS) and any field another writer added are never touched by putNode.
 */
const OPTIONAL_NODE_FIELDS = ['ipv4', 'ipv6', 'region', 'mode', 'probe'] as const;

/** NodeHealth ↔ the flat hash fields the health checker owns in `cdn:node:{id}`. */
const HEALTH_FIELDS = {
  state: 'state',
  okStreak: 'ok_streak',
  failStreak: 'fail_streak',
  checks: 'checks',
  failures: 'failures',
  lastError: 'last_error',
  lastChange: 'last_change',
  lastCheck: 'last_check',
} as const satisfies Record<keyof NodeHealth, string>;

/**
 * setNodeHealth in one step: nothing for a node not in the set; the health fields always;
 * `active` and the dirty publish only when `active` changes (read as parseActive does).
 * KEYS: node hash, node set. ARGV: id, active ('1'/'0'), payload, number of fields to set,
 * then field/value pairs, then fields to delete. Returns -1 (no node), 0, or 1 (flipped).
 */
const SET_NODE_HEALTH_LUA = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return -1 end
local prev = redis.call('HGET', KEYS[1], 'active')
local was = true
if prev then
  local v = string.lower(string.match(prev, '^%s*(.-)%s*$'))
  was = not (v == '0' or v == 'false' or v == 'no' or v == 'off' or v == '')
end
local want = ARGV[2] == '1'
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[1], ARGV[5 + 2 * i], ARGV[6 + 2 * i])
end
for i = 5 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if was == want then return 0 end
redis.call('HSET', KEYS[1], 'active', ARGV[2])
redis.call('PUBLISH', '${channels.dirty}', ARGV[3])
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

/**
 * RFC 1982 successor in Lua, mirroring advanceSerial in embedded.ts and nextSerial in
 * snapshot/serial.ts: one script, so two instances racing on a new hash get one serial.
 * Lua numbers are doubles, exact over the whole 32-bit range.
 */
const ADVANCE_SERIAL_LUA = `
local cur = redis.call('HMGET', KEYS[1], 'serial', 'hash')
local hash = ARGV[1]
local floor = tonumber(ARGV[2])
local prev = tonumber(cur[1])
if prev ~= nil and cur[2] == hash then return prev end
local serial = floor
if prev ~= nil then
  local inc = (prev + 1) % 4294967296
  local half = 2147483648
  local ahead = floor ~= inc and ((floor > inc and floor - inc < half) or (floor < inc and inc - floor > half))
  if not ahead then serial = inc end
end
redis.call('HSET', KEYS[1], 'serial', serial, 'hash', hash)
return serial
`;

/**
 * commitZoneVersion's compare-and-set. KEYS: version hash, journal list. ARGV: expected
 * serial ('' = none stored), serial, soa, records JSON, entry JSON ('' = none), max entries.
 */
const COMMIT_ZONE_VERSION_LUA = `
local cur = redis.call('HGET', KEYS[1], 'serial')
if (ARGV[1] == '' and cur) or (ARGV[1] ~= '' and cur ~= ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'serial', ARGV[2], 'soa', ARGV[3], 'records', ARGV[4])
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[5])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
end
return 1
`;

/**
 * Removes every node not in ARGV[2..] (hash and set member). Run inside the MULTI of
 * replaceNodes so a node added concurrently cannot survive half-removed.
 */
const DROP_OTHER_NODES_LUA = `
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not keep[id] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
return 0
`;

interface ScriptedCommands {
  cirrusAdvanceSerial(key: string, hash: string, floor: number): Promise<number>;
  cirrusSetNodeHealth(nodeKey: string, setKey: string, ...args: string[]): Promise<number>;
  cirrusAcquireLock(key: string, owner: string, ttlMs: number): Promise<number>;
  cirrusReleaseLock(key: string, owner: string): Promise<number>;
}

/** How long an instance stays in the view index after its last write, beyond its view TTL. */
const INDEX_SLACK_MS = 60_000;

/** Bounded so `start()` fails fast and a request during an outage errors instead of hanging. */
const CONNECT_TIMEOUT_MS = 5000;
const MAX_RETRIES_PER_REQUEST = 3;
const QUIT_TIMEOUT_MS = 2000;

export interface RedisStoreOptions {
  url: string;
  logger?: Logger | undefined;
}

/** The URL without its password, safe for logs and error messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

function nodeToHash(node: EdgeNode): Record<string, string> {
  const h: Record<string, string> = {
    id: node.id,
    pool: node.pool,
    weight: String(node.weight),
    active: node.active ? '1' : '0',
  };
  if (node.ipv4 !== undefined) h.ipv4 = node.ipv4;
  if (node.ipv6 !== undefined) h.ipv6 = node.ipv6;
  if (node.region !== undefined) h.region = node.region;
  if (node.mode !== undefined) h.mode = node.mode;
  if (node.probe !== undefined) h.probe = JSON.stringify(node.probe);
  return h;
}

function healthToHash(health: NodeHealth): { set: [string, string][]; del: string[] } {
  const set: [string, string][] = [];
  const del: string[] = [];
  for (const [k, field] of Object.entries(HEALTH_FIELDS) as [keyof NodeHealth, string][]) {
    const v = health[k];
    if (v === null) del.push(field);
    else set.push([field, String(v)]);
  }
  return { set, del };
}

const count = (v: string | undefined): number => {
  const n = v === undefined ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
};

/** The checker's record, when it has written one (a `state` field). */
function hashToHealth(h: Record<string, string>): NodeHealth | undefined {
  const state = h[HEALTH_FIELDS.state];
  if (state !== 'up' && state !== 'down' && state !== 'unknown') return undefined;
  return {
    state,
    okStreak: count(h[HEALTH_FIELDS.okStreak]),
    failStreak: count(h[HEALTH_FIELDS.failStreak]),
    checks: count(h[HEALTH_FIELDS.checks]),
    failures: count(h[HEALTH_FIELDS.failures]),
    lastError: h[HEALTH_FIELDS.lastError] ?? null,
    lastChange: h[HEALTH_FIELDS.lastChange] ?? null,
    lastCheck: h[HEALTH_FIELDS.lastCheck] ?? null,
  };
}

function parseProbe(raw: string | undefined): NodeProbe | undefined {
  if (!raw) return undefined;
  try {
    const p: unknown = JSON.parse(raw);
    return p && typeof p === 'object' && !Array.isArray(p) ? (p as NodeProbe) : undefined;
  } catch {
    return undefined;
  }
}

function parseView(raw: string | null): HealthView | undefined {
  if (raw === null) return undefined;
  try {
    const v = JSON.parse(raw) as HealthView;
    return v && typeof v === 'object' && typeof v.instance === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function parseActive(v: string | undefined): boolean {
  if (v === undefined) return true;
  return !['0', 'false', 'no', 'off', ''].includes(v.trim().toLowerCase());
}

/** Reads a node hash as written by us or by older Cirrus CDN deployments (`ip` for ipv4). */
function hashToNode(id: string, h: Record<string, string>): EdgeNode | undefined {
  if (Object.keys(h).length === 0) return undefined;
  const weight = h.weight === undefined ? NaN : Number.parseInt(h.weight, 10);
  const node: EdgeNode = {
    id,
    pool: h.pool || 'default',
    weight: Number.isFinite(weight) ? weight : 100,
    active: parseActive(h.active),
  };
  const ipv4 = h.ipv4 || h.ip;
  if (ipv4) node.ipv4 = ipv4;
  if (h.ipv6) node.ipv6 = h.ipv6;
  if (h.region) node.region = h.region;
  if (h.mode === 'auto' || h.mode === 'drain' || h.mode === 'paused') node.mode = h.mode;
  const probe = parseProbe(h.probe);
  if (probe) node.probe = probe;
  const health = hashToHealth(h);
  if (health) node.health = health;
  return node;
}

function hashToToken(id: string, h: Record<string, string>): TokenRecord | undefined {
  if (Object.keys(h).length === 0) return undefined;
  return { id: h.id || id, name: h.name ?? '', createdAt: h.created_at ?? '' };
}

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

/** Throws the first per-command error of a MULTI/pipeline, which ioredis only reports inline. */
async function execAll(m: ChainableCommander): Promise<unknown[]> {
  const res = await m.exec();
  if (!res) throw new CirrusError('STORE', 'Redis transaction was aborted');
  return res.map(([err, value]) => {
    if (err) throw new CirrusError('STORE', `Redis command failed: ${err.message}`, { cause: err });
    return value;
  });
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly events = new EventEmitter();
  private readonly url: string;
  private readonly logger: Logger | undefined;
  /** Tags our publishes so our own echo is not announced again as a remote change. */
  private readonly instanceId = randomUUID();
  private client: Redis | undefined;
  private sub: Redis | undefined;
  private started = false;

  constructor(opts: RedisStoreOptions) {
    this.url = opts.url;
    this.logger = opts.logger;
  }

  private get redis(): Redis {
    if (!this.client || !this.started) throw new CirrusError('STORE', 'Redis store is not started');
    return this.client;
  }

  async start(): Promise<void> {
    if (this.client) throw new CirrusError('STORE', 'Redis store already started');
    const shown = redactUrl(this.url);
    let lastError: Error | undefined;
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
      // No retries until start() succeeded: an unreachable Redis at boot is a config error.
      // Afterwards reconnect forever with a capped backoff; the subscriber resubscribes itself.
      retryStrategy: (times) => (this.started ? Math.min(times * 100, 2000) : null),
    };
    const client = new Redis(this.url, options);
    this.client = client;
    const sub = client.duplicate();
    this.sub = sub;

    // One line per distinct error, not one per reconnect attempt during an outage.
    let lastLogged: string | undefined;
    const onError = (role: string) => (err: Error) => {
      lastError = err;
      if (!this.started || err.message === lastLogged) return;
      lastLogged = err.message;
      this.logger?.warn({ err, role, url: shown }, 'redis connection error');
    };
    client.on('error', onError('commands'));
    sub.on('error', onError('subscriber'));
    client.on('ready', () => (lastLogged = undefined));

    let subscribedOnce = false;
    sub.on('ready', () => {
      // Messages published while we were disconnected are lost: assume everything changed.
      if (subscribedOnce) this.emit('all', 'remote');
      subscribedOnce = true;
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel !== channels.dirty) return;
      const { kind, src } = parseDirty(message);
      if (src === this.instanceId) return;
      this.emit(kind, 'remote');
    });

    try {
      await Promise.all([client.connect(), sub.connect()]);
      await sub.subscribe(channels.dirty);
      client.defineCommand('cirrusAdvanceSerial', { numberOfKeys: 1, lua: ADVANCE_SERIAL_LUA });
      client.defineCommand('cirrusSetNodeHealth', { numberOfKeys: 2, lua: SET_NODE_HEALTH_LUA });
      client.defineCommand('cirrusAcquireLock', { numberOfKeys: 1, lua: ACQUIRE_LOCK_LUA });
      client.defineCommand('cirrusReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_LUA });
      this.started = true;
    } catch (err) {
      await this.disconnect();
      const reason = lastError ? errorMessage(lastError) : errorMessage(err);
      throw new CirrusError('STORE', `cannot connect to Redis at ${shown}: ${reason}`, {
        cause: lastError ?? err,
      });
    }
  }

  async stop(): Promise<void> {
    await this.disconnect();
    this.events.removeAllListeners();
  }

  private async disconnect(): Promise<void> {
    this.started = false;
    const conns = [this.sub, this.client].filter((c): c is Redis => c !== undefined);
    this.sub = undefined;
    this.client = undefined;
    await Promise.all(conns.map(closeConnection));
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(kind: ChangeKind, origin: 'local' | 'remote'): void {
    this.events.emit('change', { kind, origin } satisfies StoreChange);
  }

  /** One content write: the commands and their publish in one MULTI, then the local event. */
  private async write(
    kind: ChangeKind,
    build: (m: ChainableCommander) => void,
  ): Promise<unknown[]> {
    const m = this.redis.multi();
    build(m);
    m.publish(channels.dirty, JSON.stringify({ kind, src: this.instanceId }));
    const res = await execAll(m);
    this.emit(kind, 'local');
    return res;
  }

  async loadState(zone: string): Promise<StoreState> {
    const [domainNames, nodeIds, zoneText, policy] = (await execAll(
      this.redis
        .pipeline()
        .smembers(keys.domains)
        .smembers(keys.nodes)
        .get(keys.zoneText(zone))
        .get(keys.policy),
    )) as [string[], string[], string | null, string | null];
    const [domains, nodes] = await Promise.all([
      this.readDomains(domainNames),
      this.readNodes(nodeIds),
    ]);
    return { domains, nodes, zoneText, policy: policy === null ? null : readPolicy(policy) };
  }

  async isEmpty(zone: string): Promise<boolean> {
    const [d, n, z, p] = (await execAll(
      this.redis
        .pipeline()
        .scard(keys.domains)
        .scard(keys.nodes)
        .exists(keys.zoneText(zone))
        .exists(keys.policy),
    )) as [number, number, number, number];
    return d === 0 && n === 0 && z === 0 && p === 0;
  }

  private parseDomain(name: string, raw: string | null): Domain | undefined {
    if (raw === null) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      parsed = err;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof Error) {
      // One unreadable record must not stop every other domain from being served.
      this.logger?.warn({ domain: name }, 'skipping unreadable domain record');
      return undefined;
    }
    const d = parsed as Domain;
    return { ...d, domain: d.domain ?? name };
  }

  private async readDomains(names: string[]): Promise<Domain[]> {
    if (names.length === 0) return [];
    names.sort();
    const raws = await this.redis.mget(names.map(keys.domain));
    return names.flatMap((n, i) => this.parseDomain(n, raws[i] ?? null) ?? []);
  }

  private async readNodes(ids: string[]): Promise<EdgeNode[]> {
    if (ids.length === 0) return [];
    ids.sort();
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(keys.node(id));
    const hashes = (await execAll(p)) as Record<string, string>[];
    return ids.flatMap((id, i) => hashToNode(id, hashes[i] ?? {}) ?? []);
  }

  async listDomains(): Promise<Domain[]> {
    return this.readDomains(await this.redis.smembers(keys.domains));
  }

  async getDomain(name: string): Promise<Domain | undefined> {
    // The set is the index: a value without membership is a leftover, not a domain.
    const [member, raw] = (await execAll(
      this.redis.pipeline().sismember(keys.domains, name).get(keys.domain(name)),
    )) as [number, string | null];
    return member ? this.parseDomain(name, raw) : undefined;
  }

  async putDomain(domain: Domain): Promise<void> {
    await this.write('domains', (m) =>
      m.set(keys.domain(domain.domain), JSON.stringify(domain)).sadd(keys.domains, domain.domain),
    );
  }

  async deleteDomain(name: string): Promise<boolean> {
    // Checked first so deleting nothing publishes nothing; the SREM result is the answer.
    if (!(await this.redis.sismember(keys.domains, name))) return false;
    const [, removed] = await this.write('domains', (m) =>
      m.del(keys.domain(name)).srem(keys.domains, name),
    );
    return removed === 1;
  }

  async listNodes(): Promise<EdgeNode[]> {
    return this.readNodes(await this.redis.smembers(keys.nodes));
  }

  async getNode(id: string): Promise<EdgeNode | undefined> {
    const [member, hash] = (await execAll(
      this.redis.pipeline().sismember(keys.nodes, id).hgetall(keys.node(id)),
    )) as [number, Record<string, string>];
    return member ? hashToNode(id, hash) : undefined;
  }

  /** HDEL of our absent fields rather than DEL, so fields other writers own survive. */
  private writeNode(m: ChainableCommander, node: EdgeNode): void {
    const key = keys.node(node.id);
    const absent: string[] = OPTIONAL_NODE_FIELDS.filter((f) => node[f] === undefined);
    // The legacy alias would otherwise bring back an address that was just removed.
    if (node.ipv4 === undefined) absent.push('ip');
    if (absent.length > 0) m.hdel(key, ...absent);
    m.hset(key, nodeToHash(node)).sadd(keys.nodes, node.id);
  }

  async putNode(node: EdgeNode): Promise<void> {
    await this.write('nodes', (m) => this.writeNode(m, node));
  }

  async deleteNode(id: string): Promise<boolean> {
    if (!(await this.redis.sismember(keys.nodes, id))) return false;
    const [, removed] = await this.write('nodes', (m) => m.del(keys.node(id)).srem(keys.nodes, id));
    return removed === 1;
  }

  async replaceNodes(nodes: EdgeNode[]): Promise<void> {
    await this.write('nodes', (m) => {
      m.eval(DROP_OTHER_NODES_LUA, 1, keys.nodes, keys.node(''), ...nodes.map((n) => n.id));
      for (const node of nodes) this.writeNode(m, node);
    });
  }

  async getZoneText(zone: string): Promise<string | null> {
    return this.redis.get(keys.zoneText(zone));
  }

  async putZoneText(zone: string, text: string): Promise<void> {
    await this.write('zone', (m) => m.set(keys.zoneText(zone), text));
  }

  async putToken(token: TokenRecord, hash: string): Promise<void> {
    const previous = await this.redis.hget(keys.token(token.id), 'hash');
    await this.write('tokens', (m) => {
      // A re-issued token must not leave its old secret able to authenticate.
      if (previous !== null && previous !== hash) m.del(keys.tokenHash(previous));
      m.hset(keys.token(token.id), {
        id: token.id,
        name: token.name,
        created_at: token.createdAt,
        hash,
      })
        .sadd(keys.tokens, token.id)
        .set(keys.tokenHash(hash), token.id);
    });
  }

  async listTokens(): Promise<TokenRecord[]> {
    const ids = (await this.redis.smembers(keys.tokens)).sort();
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(keys.token(id));
    const hashes = (await execAll(p)) as Record<string, string>[];
    return ids.flatMap((id, i) => hashToToken(id, hashes[i] ?? {}) ?? []);
  }

  async deleteToken(id: string): Promise<boolean> {
    const [member, hash] = (await execAll(
      this.redis.pipeline().sismember(keys.tokens, id).hget(keys.token(id), 'hash'),
    )) as [number, string | null];
    if (!member) return false;
    const res = await this.write('tokens', (m) => {
      m.srem(keys.tokens, id).del(keys.token(id));
      if (hash !== null) m.del(keys.tokenHash(hash));
    });
    return res[0] === 1;
  }

  async tokenIdByHash(hash: string): Promise<string | undefined> {
    const id = await this.redis.get(keys.tokenHash(hash));
    if (id === null) return undefined;
    // Authentication trusts the token set, not a possibly stale reverse index.
    return (await this.redis.sismember(keys.tokens, id)) ? id : undefined;
  }

  async advanceSerial(zone: string, contentHash: string, floor: number): Promise<number> {
    const scripted = this.redis as unknown as ScriptedCommands;
    const serial = await scripted.cirrusAdvanceSerial(keys.soa(zone), contentHash, floor >>> 0);
    return Number(serial);
  }

  async getPolicy(): Promise<GslbPolicy | null> {
    const raw = await this.redis.get(keys.policy);
    return raw === null ? null : readPolicy(raw);
  }

  async putPolicy(policy: GslbPolicy): Promise<void> {
    await this.write('policy', (m) => m.set(keys.policy, JSON.stringify(policy)));
  }

  async setNodeHealth(id: string, active: boolean, health: NodeHealth): Promise<boolean> {
    const { set, del } = healthToHash(health);
    const payload = JSON.stringify({ kind: 'health', src: this.instanceId });
    const scripted = this.redis as unknown as ScriptedCommands;
    const res = await scripted.cirrusSetNodeHealth(
      keys.node(id),
      keys.nodes,
      id,
      active ? '1' : '0',
      payload,
      String(set.length),
      ...set.flat(),
      ...del,
    );
    if (Number(res) === 1) this.emit('health', 'local');
    return Number(res) >= 0;
  }

  /**
   * One key per node and instance, expiring on its own; the instance is also recorded in
   * `cdn:health:instances` (score: last write) so readers need no SCAN over the keyspace.
   */
  async putHealthViews(views: ReadonlyMap<string, HealthView>, ttlSec: number): Promise<void> {
    if (views.size === 0) return;
    const now = Date.now();
    const m = this.redis.multi();
    const instances = new Set<string>();
    for (const [node, view] of views) {
      instances.add(view.instance);
      m.set(keys.healthView(node, view.instance), JSON.stringify(view), 'EX', ttlSec);
    }
    for (const instance of instances) m.zadd(keys.healthInstances, now, instance);
    m.zremrangebyscore(keys.healthInstances, '-inf', now - ttlSec * 1000 - INDEX_SLACK_MS);
    await execAll(m);
  }

  async loadHealthViews(nodeIds: readonly string[]): Promise<Map<string, HealthView[]>> {
    const out = new Map<string, HealthView[]>();
    if (nodeIds.length === 0) return out;
    const instances = await this.redis.zrange(keys.healthInstances, 0, -1);
    if (instances.length === 0) return out;
    const pairs = nodeIds.flatMap((node) => instances.map((inst) => [node, inst] as const));
    const raws = await this.redis.mget(pairs.map(([node, inst]) => keys.healthView(node, inst)));
    pairs.forEach(([node], i) => {
      const view = parseView(raws[i] ?? null);
      if (!view) return;
      const list = out.get(node) ?? [];
      list.push(view);
      out.set(node, list);
    });
    return out;
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.takeLock(keys.lock(name), owner, ttlMs);
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.dropLock(keys.lock(name), owner);
  }

  async acquireCertLock(domain: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.takeLock(keys.acmeLock(domain), owner, ttlMs);
  }

  async releaseCertLock(domain: string, owner: string): Promise<void> {
    await this.dropLock(keys.acmeLock(domain), owner);
  }

  private async takeLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const scripted = this.redis as unknown as ScriptedCommands;
    return Number(await scripted.cirrusAcquireLock(key, owner, ttlMs)) === 1;
  }

  private async dropLock(key: string, owner: string): Promise<void> {
    const scripted = this.redis as unknown as ScriptedCommands;
    await scripted.cirrusReleaseLock(key, owner);
  }

  async putAcmeTxt(txt: AcmeTxt): Promise<void> {
    await this.write('acme', (m) =>
      m.zadd(keys.acmeTxt, txt.expiresAt, JSON.stringify([txt.name, txt.value])),
    );
  }

  async deleteAcmeTxt(name: string, value?: string): Promise<number> {
    // Looked up first so deleting nothing publishes nothing.
    const members = (await this.redis.zrange(keys.acmeTxt, 0, -1)).filter((m) => {
      const parsed = parseTxtMember(m);
      return parsed?.[0] === name && (value === undefined || parsed[1] === value);
    });
    if (members.length === 0) return 0;
    const [removed] = await this.write('acme', (m) => m.zrem(keys.acmeTxt, ...members));
    return Number(removed);
  }

  async listAcmeTxt(now: number): Promise<AcmeTxt[]> {
    const [, flat] = (await execAll(
      this.redis
        .multi()
        .zremrangebyscore(keys.acmeTxt, '-inf', now)
        .zrangebyscore(keys.acmeTxt, `(${now}`, '+inf', 'WITHSCORES'),
    )) as [number, string[]];
    const out: AcmeTxt[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const parsed = parseTxtMember(flat[i] as string);
      if (parsed) out.push({ name: parsed[0], value: parsed[1], expiresAt: Number(flat[i + 1]) });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.value.localeCompare(b.value));
  }

  async putAcmeDnsAccount(account: AcmeDnsAccount): Promise<void> {
    await this.redis.hset(keys.acmeDnsAccount(account.username), {
      password_hash: account.passwordHash,
      subdomain: account.subdomain,
      allowfrom: JSON.stringify(account.allowfrom),
      created_at: account.createdAt,
    });
  }

  async getAcmeDnsAccount(username: string): Promise<AcmeDnsAccount | undefined> {
    const h = await this.redis.hgetall(keys.acmeDnsAccount(username));
    if (!h.password_hash || !h.subdomain) return undefined;
    let allowfrom: string[] = [];
    try {
      const parsed: unknown = JSON.parse(h.allowfrom ?? '[]');
      if (Array.isArray(parsed)) allowfrom = parsed.filter((c) => typeof c === 'string');
    } catch {
      // An unreadable list allows nothing rather than everything.
      allowfrom = ['0.0.0.0/32'];
    }
    return {
      username,
      passwordHash: h.password_hash,
      subdomain: h.subdomain,
      allowfrom,
      createdAt: h.created_at ?? '',
    };
  }

  async getAcmeState(domain: string): Promise<AcmeDomainState | undefined> {
    const raw = await this.redis.get(keys.acmeState(domain));
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as AcmeDomainState;
    } catch {
      this.logger?.warn({ domain }, 'unreadable ACME state record');
      return undefined;
    }
  }

  async putAcmeState(state: AcmeDomainState): Promise<void> {
    await this.redis.set(keys.acmeState(state.domain), JSON.stringify(state));
  }

  async getCertificate(domain: string): Promise<StoredCertificate | undefined> {
    const h = await this.redis.hgetall(keys.cert(domain));
    if (!h.cert || !h.key) return undefined;
    return { cert: h.cert, key: h.key, issuedAt: h.issued_at ?? '', expiresAt: h.expires_at ?? '' };
  }

  /**
   * One HSET, so the edge never reads a chain of one issuance with the key of another, and
   * in the same MULTI the `cdn:cert:updated` publish that makes every edge drop its copy.
   */
  async putCertificate(domain: string, cert: StoredCertificate): Promise<void> {
    await execAll(
      this.redis
        .multi()
        .hset(keys.cert(domain), {
          cert: cert.cert,
          key: cert.key,
          issued_at: cert.issuedAt,
          expires_at: cert.expiresAt,
        })
        .publish(edgeChannels.cert, domain),
    );
  }

  async claimAcmeKey(which: { account: true } | { domain: string }, pem: string): Promise<string> {
    const key = 'domain' in which ? keys.acmeCertKey(which.domain) : keys.acmeAccountKey;
    const [, stored] = (await execAll(this.redis.multi().set(key, pem, 'NX').get(key))) as [
      unknown,
      string | null,
    ];
    return stored ?? pem;
  }

  async getPeers(): Promise<PeersDocument | null> {
    const raw = await this.redis.get(keys.xfrPeers);
    return raw === null ? null : (JSON.parse(raw) as PeersDocument);
  }

  async putPeers(doc: PeersDocument): Promise<void> {
    await this.write('xfr', (m) => m.set(keys.xfrPeers, JSON.stringify(doc)));
  }

  async getZoneVersion(zone: string): Promise<ZoneVersion | null> {
    const h = await this.redis.hgetall(keys.xfrVersion(zone));
    if (h.serial === undefined || h.soa === undefined || h.records === undefined) return null;
    return { serial: Number(h.serial), soa: h.soa, records: JSON.parse(h.records) as string[] };
  }

  async commitZoneVersion(
    zone: string,
    expected: number | null,
    next: ZoneVersion,
    entry: JournalEntry | null,
    maxEntries: number,
  ): Promise<boolean> {
    const done = await this.redis.eval(
      COMMIT_ZONE_VERSION_LUA,
      2,
      keys.xfrVersion(zone),
      keys.xfrJournal(zone),
      expected === null ? '' : String(expected),
      String(next.serial),
      next.soa,
      JSON.stringify(next.records),
      entry ? JSON.stringify(entry) : '',
      String(maxEntries),
    );
    return done === 1;
  }

  async loadJournal(zone: string): Promise<JournalEntry[]> {
    const raw = await this.redis.lrange(keys.xfrJournal(zone), 0, -1);
    return raw.map((e) => JSON.parse(e) as JournalEntry);
  }

  async putInstance(id: string, value: string, ttlSec: number): Promise<void> {
    const now = Date.now();
    await execAll(
      this.redis
        .multi()
        .set(keys.instance(id), value, 'EX', ttlSec)
        .zadd(keys.instances, now, id)
        .zremrangebyscore(keys.instances, '-inf', now - ttlSec * 1000 - INDEX_SLACK_MS),
    );
  }

  async listInstances(): Promise<Map<string, string>> {
    const ids = await this.redis.zrange(keys.instances, 0, -1);
    const out = new Map<string, string>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(ids.map((id) => keys.instance(id)));
    ids.forEach((id, i) => {
      const v = values[i];
      if (v) out.set(id, v);
    });
    return out;
  }

  async getMeta(name: string): Promise<string | undefined> {
    return (await this.redis.get(keys.meta(name))) ?? undefined;
  }

  async setMeta(name: string, value: string): Promise<void> {
    await this.redis.set(keys.meta(name), value);
  }
}

function parseTxtMember(member: string): [string, string] | undefined {
  try {
    const v: unknown = JSON.parse(member);
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string')
      return [v[0], v[1]];
  } catch {
    // A member another writer added in another form is ignored.
  }
  return undefined;
}

/** QUIT when the connection is up (pending replies flushed), else just tear it down. */
async function closeConnection(c: Redis): Promise<void> {
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
