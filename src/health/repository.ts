// Where the health checker keeps what is about instances rather than nodes: each instance's
// view of each node (`cdn:health:{node}:{instance}`, expiring), their index
// (`cdn:health:instances`, sorted set scored by the last write) and the leader leases
// (`cdn:lock:{name}`). A node's own health fields are the node repository's.
import type { Store } from '../store/store.js';
import type { HealthView } from '../model/domain.js';

export const healthKeys = {
  healthView: (node: string, instance: string) => `cdn:health:${node}:${instance}`,
  healthInstances: 'cdn:health:instances',
  lock: (name: string) => `cdn:lock:${name}`,
} as const;

/** How long an instance stays in the view index after its last write, beyond its view TTL. */
const INDEX_SLACK_MS = 60_000;

function parseView(raw: string | undefined): HealthView | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as HealthView;
    return v && typeof v === 'object' && typeof v.instance === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export class HealthRepository {
  constructor(private readonly store: Store) {}

  /**
   * This instance's views, one key per node and instance, each expiring after ttlSec; the
   * instance is recorded in the index so readers need no SCAN over the keyspace. About this
   * instance and written every probe round: volatile, so the embedded engine keeps it in
   * memory.
   */
  async putViews(views: ReadonlyMap<string, HealthView>, ttlSec: number): Promise<void> {
    if (views.size === 0) return;
    const now = Date.now();
    const instances = new Set<string>();
    const ops = [];
    for (const [node, view] of views) {
      instances.add(view.instance);
      ops.push({
        op: 'set' as const,
        key: healthKeys.healthView(node, view.instance),
        value: JSON.stringify(view),
        ttlMs: ttlSec * 1000,
      });
    }
    for (const member of instances)
      ops.push({ op: 'zadd' as const, key: healthKeys.healthInstances, member, score: now });
    ops.push({
      op: 'zremMax' as const,
      key: healthKeys.healthInstances,
      max: now - ttlSec * 1000 - INDEX_SLACK_MS,
    });
    await this.store.write(ops, { volatile: true });
  }

  /** Every unexpired view of the given nodes, by node id. */
  async loadViews(nodeIds: readonly string[]): Promise<Map<string, HealthView[]>> {
    const out = new Map<string, HealthView[]>();
    if (nodeIds.length === 0) return out;
    const instances = (await this.store.zrange(healthKeys.healthInstances)).map((e) => e.member);
    if (instances.length === 0) return out;
    const pairs = nodeIds.flatMap((node) => instances.map((inst) => [node, inst] as const));
    const raws = await this.store.mget(
      pairs.map(([node, inst]) => healthKeys.healthView(node, inst)),
    );
    pairs.forEach(([node], i) => {
      const view = parseView(raws[i]);
      if (!view) return;
      const list = out.get(node) ?? [];
      list.push(view);
      out.set(node, list);
    });
    return out;
  }

  /** Takes or renews the leader lease `name` for `owner`; true when `owner` holds it. */
  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.store.acquireLock(healthKeys.lock(name), owner, ttlMs);
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.store.releaseLock(healthKeys.lock(name), owner);
  }
}
