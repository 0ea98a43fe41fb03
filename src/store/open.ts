// Chooses the store implementation from the config: Redis when a URL is given, else the
// embedded store (memory, persisted to `store.file` unless that is null).
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/logger.js';
import type { Store } from './store.js';
import { EmbeddedStore } from './embedded.js';
import { RedisStore } from './redis.js';

export function openStore(config: Config, logger: Logger): Store {
  if (config.store.redisUrl) return new RedisStore({ url: config.store.redisUrl, logger });
  return new EmbeddedStore({
    file: config.store.file ?? undefined,
    writeDelayMs: config.store.writeDelayMs,
    logger,
  });
}
