// Chooses the store engine from the config (the composition root's part: the embedded
// engine is told how to read state files of version 1, which only the features understand).
import type { Config } from './config/schema.js';
import type { Logger } from './lib/logger.js';
import type { Store } from './store/store.js';
import { EmbeddedStore } from './store/embedded.js';
import { RedisStore } from './store/redis.js';
import { redisConnection } from './store/redis-connection.js';
import { migrateStateFileV1 } from './state-file-v1.js';

/**
 * The store the config names: Redis when a URL or sentinels are given, else the embedded store (memory,
 * persisted to `store.file` unless that is null), reading state files of version 1 too.
 */
export function openStore(config: Config, logger: Logger): Store {
  const connection = redisConnection(config.store);
  if (connection) return new RedisStore({ connection, logger });
  return new EmbeddedStore({
    file: config.store.file ?? undefined,
    writeDelayMs: config.store.writeDelayMs,
    migrate: migrateStateFileV1,
    logger,
  });
}
