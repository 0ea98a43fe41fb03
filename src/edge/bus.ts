// The API's line to the edges: node overrides and purge messages go straight to Redis (the
// edges read nothing else). With the embedded store there are no edges to reach, and every
// call says so with a 409 instead of pretending.
import { Redis } from 'ioredis';
import type { RedisConnection } from '../store/redis-connection.js';
import { randomUUID } from 'node:crypto';
import { ConflictError } from '../lib/errors.js';
import { edgeChannels, edgeKeys } from './keys.js';
import type { EdgeOverride } from '../model/edge.js';

/** One purge as the edges apply it: domain-relative paths, lower-case domains. */
export interface PurgeMessage {
  id: string;
  urls: { domain: string; path: string }[];
  prefixes: { domain: string; path: string }[];
  domains: string[];
  at: string;
}

/** One prewarm as the edges apply it: each edge fetches every URL through its own cache. */
export interface PrewarmMessage {
  id: string;
  urls: { domain: string; path: string }[];
  concurrency: number;
  at: string;
}

export class EdgeBus {
  private client: Redis | undefined;
  constructor(private readonly connection: RedisConnection | undefined) {}

  private redis(what: string): Redis {
    if (!this.connection)
      throw new ConflictError(
        `${what} needs the Redis store (store.redisUrl / REDIS_URL, or store.sentinel): edges read their configuration from Redis`,
      );
    this.client ??= new Redis({
      ...this.connection.options,
      lazyConnect: false,
      maxRetriesPerRequest: 2,
    });
    return this.client;
  }

  async getOverride(node: string): Promise<EdgeOverride | null> {
    const raw = await this.redis('an edge override').get(edgeKeys.override(node));
    return raw ? (JSON.parse(raw) as EdgeOverride) : null;
  }

  async putOverride(node: string, override: EdgeOverride): Promise<void> {
    await this.redis('an edge override')
      .multi()
      .set(edgeKeys.override(node), JSON.stringify(override))
      .publish(edgeChannels.override, node)
      .exec();
  }

  async deleteOverride(node: string): Promise<boolean> {
    const res = await this.redis('an edge override')
      .multi()
      .del(edgeKeys.override(node))
      .publish(edgeChannels.override, node)
      .exec();
    return res?.[0]?.[1] === 1;
  }

  /** Publishes one purge; returns the message and how many subscribers received it. */
  async purge(
    body: Omit<PurgeMessage, 'id' | 'at'>,
  ): Promise<{ message: PurgeMessage; receivers: number }> {
    const redis = this.redis('purge');
    const message: PurgeMessage = { id: randomUUID(), ...body, at: new Date().toISOString() };
    const receivers = await redis.publish(edgeChannels.purge, JSON.stringify(message));
    return { message, receivers };
  }

  /** Publishes one prewarm; the id (given or new) makes edges apply it once. */
  async prewarm(body: {
    id?: string;
    urls: { domain: string; path: string }[];
    concurrency: number;
  }): Promise<{ message: PrewarmMessage; receivers: number }> {
    const redis = this.redis('prewarm');
    const message: PrewarmMessage = {
      id: body.id ?? randomUUID(),
      urls: body.urls,
      concurrency: body.concurrency,
      at: new Date().toISOString(),
    };
    const receivers = await redis.publish(edgeChannels.prewarm, JSON.stringify(message));
    return { message, receivers };
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.quit().catch(() => c.disconnect());
  }
}
