// Where domains and edge nodes are kept: `cdn:domains` (set) with `cdn:dom:{domain}` (JSON),
// and `cdn:nodes` (set) with `cdn:node:{id}` (hash), the Cirrus CDN layout. A node's hash
// holds its config fields (written here) and the health checker's fields (setHealth); each
// writer touches only its own, so fields other writers added survive.
import type { Store } from '../store/store.js';
import type { Domain, EdgeNode, NodeHealth, NodeProbe } from '../model/domain.js';

export const domainKeys = {
  domains: 'cdn:domains',
  domain: (d: string) => `cdn:dom:${d}`,
  nodes: 'cdn:nodes',
  node: (id: string) => `cdn:node:${id}`,
} as const;

/** Read as the old engines did: the stored `domain`, else the set member's name. */
function asDomain(name: string, value: unknown): Domain | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const d = value as Domain;
  // The very object when it is complete: readers compare domains by identity (build.ts).
  return d.domain === undefined ? { ...d, domain: name } : d;
}

export class DomainRepository {
  constructor(private readonly store: Store) {}

  /** Every domain, sorted by name. */
  async list(): Promise<Domain[]> {
    return this.read(await this.names(), false);
  }

  /**
   * Every domain's name, sorted, without reading the records: for scans that need only
   * names (a copy of 100,000 records is ~100 MB of garbage and half a second of the loop).
   */
  async names(): Promise<string[]> {
    return (await this.store.smembers(domainKeys.domains)).sort();
  }

  /**
   * Every domain, in no particular order, as the store holds them: the embedded engine hands
   * out its own objects, which the caller must never change (the snapshot builder).
   */
  async loadAll(): Promise<Domain[]> {
    const values = await this.store.jsonOfMembers(domainKeys.domains, 'cdn:dom:');
    // Records written here are complete: then the values are the answer, copied in one step.
    let complete = true;
    for (const v of values.values()) if (asDomain('', v) !== v) complete = false;
    if (complete) return Array.from(values.values()) as Domain[];
    const out: Domain[] = [];
    values.forEach((value, name) => {
      const d = asDomain(name, value);
      if (d) out.push(d);
    });
    return out;
  }

  private async read(names: string[], shared: boolean): Promise<Domain[]> {
    if (names.length === 0) return [];
    const values = await this.store.getJson(names.map(domainKeys.domain), { shared });
    const out: Domain[] = [];
    for (let i = 0; i < names.length; i++) {
      // One unreadable record must not stop every other domain from being served.
      const d = asDomain(names[i] as string, values[i]);
      if (d) out.push(d);
    }
    return out;
  }

  async get(name: string): Promise<Domain | undefined> {
    // The set is the index: a value without membership is a leftover, not a domain.
    if (!(await this.store.sismember(domainKeys.domains, name))) return undefined;
    const [value] = await this.store.getJson([domainKeys.domain(name)]);
    return asDomain(name, value);
  }

  async count(): Promise<number> {
    return this.store.scard(domainKeys.domains);
  }

  async put(domain: Domain): Promise<void> {
    await this.store.write(
      [
        { op: 'setJson', key: domainKeys.domain(domain.domain), value: domain },
        { op: 'sadd', key: domainKeys.domains, members: [domain.domain] },
      ],
      { change: 'domains' },
    );
  }

  /** False when there was no such domain (nothing written, nothing announced). */
  async delete(name: string): Promise<boolean> {
    return this.store.write(
      [
        { op: 'del', key: domainKeys.domain(name) },
        { op: 'srem', key: domainKeys.domains, members: [name] },
      ],
      { if: [{ key: domainKeys.domains, member: name, present: true }], change: 'domains' },
    );
  }
}

/**
 * Optional node hash fields put owns (deleted when absent). The health checker's fields
 * (HEALTH_FIELDS) and any field another writer added are never touched by put.
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

/** A compare-and-set that lost to another writer is read again and retried this often. */
const RETRIES = 20;

export class NodeRepository {
  constructor(private readonly store: Store) {}

  /** Every node, sorted by id; a member without a hash is skipped. */
  async list(): Promise<EdgeNode[]> {
    return this.read((await this.store.smembers(domainKeys.nodes)).sort());
  }

  private async read(ids: string[]): Promise<EdgeNode[]> {
    const hashes = await this.store.hgetall(ids.map(domainKeys.node));
    return ids.flatMap((id, i) => hashToNode(id, hashes[i] ?? {}) ?? []);
  }

  async get(id: string): Promise<EdgeNode | undefined> {
    if (!(await this.store.sismember(domainKeys.nodes, id))) return undefined;
    return (await this.read([id]))[0];
  }

  async count(): Promise<number> {
    return this.store.scard(domainKeys.nodes);
  }

  async put(node: EdgeNode): Promise<void> {
    await this.store.write(writeNode(node), { change: 'nodes' });
  }

  /** False when there was no such node (nothing written, nothing announced). */
  async delete(id: string): Promise<boolean> {
    return this.store.write(
      [
        { op: 'del', key: domainKeys.node(id) },
        { op: 'srem', key: domainKeys.nodes, members: [id] },
      ],
      { if: [{ key: domainKeys.nodes, member: id, present: true }], change: 'nodes' },
    );
  }

  /**
   * Replaces the whole node list in one step (Cirrus CDN's `PUT /nodes`): the nodes not in
   * `nodes` are removed, on the condition that the set is still the one read, so a node
   * added concurrently cannot survive half-removed.
   */
  async replace(nodes: EdgeNode[]): Promise<void> {
    const keep = new Set(nodes.map((n) => n.id));
    for (let attempt = 0; ; attempt++) {
      const current = await this.store.smembers(domainKeys.nodes);
      const gone = current.filter((id) => !keep.has(id));
      const done = await this.store.write(
        [
          ...gone.map((id) => ({ op: 'del' as const, key: domainKeys.node(id) })),
          ...(gone.length ? [{ op: 'srem' as const, key: domainKeys.nodes, members: gone }] : []),
          ...nodes.flatMap(writeNode),
        ],
        {
          if: [
            { key: domainKeys.nodes, size: current.length },
            ...current.map((id) => ({ key: domainKeys.nodes, member: id, present: true })),
          ],
          change: 'nodes',
        },
      );
      if (done) return;
      if (attempt >= RETRIES) throw new Error('node list kept changing during replace');
    }
  }

  /**
   * Writes the health checker's fields of `cdn:node:{id}` (never its config fields). A change
   * of `active` is a content change (kind 'health', announced to every instance); counters
   * alone are not, and the embedded engine persists them with its next write. `active`
   * undefined keeps the stored value. Returns false when the node does not exist (nothing is
   * written).
   */
  async setHealth(id: string, active: boolean | undefined, health: NodeHealth): Promise<boolean> {
    const key = domainKeys.node(id);
    const set: Record<string, string> = {};
    const del: string[] = [];
    for (const [k, field] of Object.entries(HEALTH_FIELDS) as [keyof NodeHealth, string][]) {
      const v = health[k];
      if (v === null) del.push(field);
      else set[field] = String(v);
    }
    for (let attempt = 0; ; attempt++) {
      const [present, [h = {}]] = await Promise.all([
        this.store.sismember(domainKeys.nodes, id),
        this.store.hgetall([key]),
      ]);
      if (!present) return false;
      const flipped = active !== undefined && parseActive(h.active) !== active;
      const ops = [
        {
          op: 'hset' as const,
          key,
          fields: flipped ? { ...set, active: active ? '1' : '0' } : set,
        },
        ...(del.length ? [{ op: 'hdel' as const, key, fields: del }] : []),
      ];
      const done = await this.store.write(ops, {
        if: [
          { key: domainKeys.nodes, member: id, present: true },
          { key, field: 'active', equals: h.active },
        ],
        ...(flipped ? { change: 'health' as const } : {}),
        lazy: !flipped && h[HEALTH_FIELDS.state] === health.state,
      });
      if (done) return true;
      if (attempt >= RETRIES) throw new Error(`node ${id} kept changing during a health write`);
    }
  }
}

/** HDEL of our absent fields rather than DEL, so fields other writers own survive. */
function writeNode(node: EdgeNode) {
  const key = domainKeys.node(node.id);
  const absent: string[] = OPTIONAL_NODE_FIELDS.filter((f) => node[f] === undefined);
  // The legacy alias would otherwise bring back an address that was just removed.
  if (node.ipv4 === undefined) absent.push('ip');
  return [
    { op: 'hdel' as const, key, fields: absent },
    { op: 'hset' as const, key, fields: nodeToHash(node) },
    { op: 'sadd' as const, key: domainKeys.nodes, members: [node.id] },
  ];
}
