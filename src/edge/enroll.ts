// `cirrus edge enroll <node>`: registers an edge node and gives it its own Redis ACL user,
// which can read domains, certificates and its own override and subscribe to the edge
// channels, and nothing else: an edge never holds write access to the source of truth.
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import { channels } from '../store/keys.js';
import { domainKeys, type NodeRepository } from '../domains/repository.js';
import { NODE_ID_PATTERN, type EdgeNode } from '../model/domain.js';
import { toEdgeNode } from '../domains/service.js';
import { ConflictError, ValidationError } from '../lib/errors.js';
import { edgeChannels, edgeKeys } from './keys.js';
import { redisConnection, type RedisConnection } from '../store/redis-connection.js';

export interface EnrollOptions {
  node: string;
  ipv4?: string;
  ipv6?: string;
  pool?: string;
}

export interface Enrolment {
  node: EdgeNode;
  created: boolean;
  user: string;
  /**
   * The environment the edge runs with (edge/README and the README's "Edge fleet"); with
   * Sentinel, REDIS_URL holds the master at enrolment and the edge asks the sentinels.
   */
  env: {
    CDN_NODE: string;
    REDIS_URL: string;
    REDIS_SENTINELS?: string;
    REDIS_SENTINEL_NAME?: string;
  };
}

/** Commands an edge sends: reads of its keys, pub/sub, and connection housekeeping. */
const EDGE_COMMANDS = [
  'get',
  'mget',
  'exists',
  'hget',
  'hmget',
  'hgetall',
  'smembers',
  'subscribe',
  'unsubscribe',
  'ping',
  'auth',
  'hello',
  'select',
  'quit',
  'reset',
];

/** The ACL SETUSER rules of an edge user (`reset` first: enrolling again rotates everything). */
export function edgeAclRules(node: string, password: string): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    `%R~${domainKeys.domain('*')}`,
    `%R~${edgeKeys.cert('*')}`,
    `%R~${edgeKeys.override(node)}`,
    // Shield parents: node addresses and pool membership.
    `%R~${domainKeys.node('*')}`,
    `%R~${domainKeys.nodes}`,
    `&${edgeChannels.purge}`,
    `&${edgeChannels.prewarm}`,
    `&${channels.dirty}`,
    `&${edgeChannels.cert}`,
    `&${edgeChannels.override}`,
    '-@all',
    ...EDGE_COMMANDS.map((c) => `+${c}`),
  ];
}

export async function enrollEdge(
  config: Config,
  repos: { nodes: NodeRepository },
  opts: EnrollOptions,
): Promise<Enrolment> {
  if (!new RegExp(NODE_ID_PATTERN).test(opts.node))
    throw new ValidationError(`node id ${JSON.stringify(opts.node)} is not valid`, 'node');
  const conn = redisConnection(config.store);
  if (!conn)
    throw new ConflictError(
      'edge enroll needs the Redis store (REDIS_URL or REDIS_SENTINELS): edges read their configuration from Redis',
    );
  let node = await repos.nodes.get(opts.node);
  const created = !node;
  if (!node) {
    if (!opts.ipv4 && !opts.ipv6)
      throw new ValidationError(`node ${opts.node} is new: give --ipv4 or --ipv6`, 'ipv4');
    node = toEdgeNode({
      id: opts.node,
      ...(opts.ipv4 ? { ipv4: opts.ipv4 } : {}),
      ...(opts.ipv6 ? { ipv6: opts.ipv6 } : {}),
      pool: opts.pool ?? 'default',
      weight: 100,
      active: true,
      mode: 'auto',
    });
    await repos.nodes.put(node);
  }

  const user = `edge-${opts.node}`;
  const password = randomBytes(24).toString('hex');
  // ACL users are per server, not replicated: with Sentinel every data node gets the user,
  // so the edge can still log in after a replica is promoted.
  const nodes = conn.sentinel ? await sentinelDataNodes(conn) : [conn.options];
  for (const target of nodes) {
    const admin = new Redis({
      ...dataNodeOptions(conn),
      ...target,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    try {
      await admin.connect();
      await admin.call('ACL', 'SETUSER', user, ...edgeAclRules(opts.node, password));
      // Persist where the server can: an ACL file, else nothing (documented in the README).
      await admin.call('ACL', 'SAVE').catch(() => undefined);
    } finally {
      admin.disconnect();
    }
  }
  const first = nodes[0] as { host?: string; port?: number };
  const scheme = conn.options.tls ? 'rediss' : 'redis';
  const db = conn.options.db ? `/${conn.options.db}` : '';
  const url = new URL(`${scheme}://${first.host ?? '127.0.0.1'}:${first.port ?? 6379}${db}`);
  url.username = encodeURIComponent(user);
  url.password = password;
  return {
    node,
    created,
    user,
    env: {
      CDN_NODE: opts.node,
      REDIS_URL: url.toString(),
      ...(conn.sentinel
        ? {
            REDIS_SENTINELS: config.store.sentinel.addresses.join(','),
            REDIS_SENTINEL_NAME: conn.sentinel.name,
          }
        : {}),
    },
  };
}

/** Credentials, db and TLS of a data node, for a direct connection (no Sentinel). */
function dataNodeOptions(conn: RedisConnection): RedisOptions {
  const { username, password, db, tls, host, port } = conn.options;
  return {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
  };
}

/** The master (first) and the replicas the sentinels know, from the first that answers. */
async function sentinelDataNodes(conn: RedisConnection): Promise<{ host: string; port: number }[]> {
  const o = conn.options;
  const s = conn.sentinel as NonNullable<RedisConnection['sentinel']>;
  let lastError: unknown;
  for (const addr of s.addresses) {
    const sentinel = new Redis({
      ...addr,
      ...(o.sentinelUsername ? { username: o.sentinelUsername } : {}),
      ...(o.sentinelPassword ? { password: o.sentinelPassword } : {}),
      ...(o.sentinelTLS ? { tls: o.sentinelTLS } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    try {
      await sentinel.connect();
      const master = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', s.name)) as
        [string, string] | null;
      if (!master)
        throw new ConflictError(`sentinel ${addr.host}:${addr.port} does not know ${s.name}`);
      const replicas = (await sentinel.call('SENTINEL', 'replicas', s.name)) as string[][];
      const out = [{ host: master[0], port: Number(master[1]) }];
      for (const flat of replicas) {
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < flat.length; i += 2)
          f.set(flat[i] as string, flat[i + 1] as string);
        if (!/s_down|o_down|disconnected/.test(f.get('flags') ?? ''))
          out.push({ host: f.get('ip') as string, port: Number(f.get('port')) });
      }
      return out;
    } catch (err) {
      lastError = err;
    } finally {
      sentinel.disconnect();
    }
  }
  throw lastError instanceof Error ? lastError : new ConflictError('no sentinel answered');
}
