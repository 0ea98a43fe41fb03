// `cirrus edge enroll <node>`: registers an edge node and gives it its own Redis ACL user,
// which can read domains, certificates and its own override and subscribe to the edge
// channels, and nothing else: an edge never holds write access to the source of truth.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { channels } from '../store/keys.js';
import { domainKeys, type NodeRepository } from '../domains/repository.js';
import { NODE_ID_PATTERN, type EdgeNode } from '../model/domain.js';
import { toEdgeNode } from '../domains/service.js';
import { ConflictError, ValidationError } from '../lib/errors.js';
import { edgeChannels, edgeKeys } from './keys.js';

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
  /** The environment the edge runs with (edge/README and the README's "Edge fleet"). */
  env: { CDN_NODE: string; REDIS_URL: string };
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
  const redisUrl = config.store.redisUrl;
  if (!redisUrl)
    throw new ConflictError(
      'edge enroll needs the Redis store (REDIS_URL): edges read their configuration from Redis',
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
  const admin = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    await admin.call('ACL', 'SETUSER', user, ...edgeAclRules(opts.node, password));
    // Persist where the server can: an ACL file, else nothing (documented in the README).
    await admin.call('ACL', 'SAVE').catch(() => undefined);
  } finally {
    admin.disconnect();
  }
  const url = new URL(redisUrl);
  url.username = encodeURIComponent(user);
  url.password = password;
  return { node, created, user, env: { CDN_NODE: opts.node, REDIS_URL: url.toString() } };
}
