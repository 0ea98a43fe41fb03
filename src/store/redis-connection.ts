// How Cirrus reaches Redis: one address (`store.redisUrl`) or a master named by Sentinel
// (`store.sentinel`), with ACL credentials and TLS (`store.redis`) applied to every
// connection it opens: commands, subscriber, sentinels, the edge bus and `edge enroll`.
// Reconnect and retry policy belongs to the users of these options, not here.
import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { StoreConfig, type Config } from '../config/schema.js';
import { validate } from '../config/validate.js';
import { ConfigError, errorMessage } from '../lib/errors.js';

type StoreSettings = Config['store'];

export interface RedisConnection {
  /** Everything but reconnect policy: host/port or sentinels, credentials, db, TLS. */
  options: RedisOptions;
  /** "127.0.0.1:6379" or "master mymaster via 10.0.0.1:26379,…", for messages (no secrets). */
  where: string;
  /** What start errors name: the URL without its password, or `where`. */
  label: string;
  sentinel: { addresses: { host: string; port: number }[]; name: string } | undefined;
  /** Replicas a write must reach before it is acknowledged (WAIT); 0 = none. */
  waitReplicas: number;
  waitTimeoutMs: number;
  /** How long a command waits for a connection that is down before STORE_UNAVAILABLE. */
  readyWaitMs: number;
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${field}: cannot read ${path}: ${errorMessage(err)}`, field);
  }
}

function hostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!m) throw new ConfigError(`"${text}" is not host:port`, 'store.sentinel.addresses');
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

/** The TLS options of `store.redis.tls`, or undefined when TLS is off. */
function tlsOptions(store: StoreSettings, forceOn: boolean): ConnectionOptions | undefined {
  const t = store.redis.tls;
  if (!t.enabled && !forceOn) return undefined;
  return {
    ...(t.ca ? { ca: readPem(t.ca, 'store.redis.tls.ca') } : {}),
    ...(t.cert ? { cert: readPem(t.cert, 'store.redis.tls.cert') } : {}),
    ...(t.key ? { key: readPem(t.key, 'store.redis.tls.key') } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
  };
}

/** The URL without its password, safe for logs and error messages. */
function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** The connection the store config names, or undefined for the embedded store. */
export function redisConnection(store: StoreSettings): RedisConnection | undefined {
  const common = {
    waitTimeoutMs: store.redis.waitTimeoutMs,
    readyWaitMs: store.redis.readyWaitMs,
  };
  const creds = {
    ...(store.redis.username !== null ? { username: store.redis.username } : {}),
    ...(store.redis.password !== null ? { password: store.redis.password } : {}),
  };
  if (store.sentinel.addresses.length > 0) {
    const s = store.sentinel;
    const addresses = s.addresses.map(hostPort);
    const tls = tlsOptions(store, false);
    return {
      options: {
        sentinels: addresses,
        name: s.name,
        ...creds,
        ...(s.username !== null ? { sentinelUsername: s.username } : {}),
        ...(s.password !== null ? { sentinelPassword: s.password } : {}),
        ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
        ...(s.tls ? { sentinelTLS: tls ?? tlsOptions(store, true) } : {}),
      },
      where: `master ${s.name} via ${s.addresses.join(',')}`,
      label: `master ${s.name} via ${s.addresses.join(',')}`,
      sentinel: { addresses, name: s.name },
      waitReplicas: store.redis.waitReplicas ?? 1,
      ...common,
    };
  }
  if (!store.redisUrl) return undefined;
  let url: URL;
  try {
    url = new URL(store.redisUrl);
  } catch (err) {
    throw new ConfigError(`store.redisUrl: ${errorMessage(err)}`, 'store.redisUrl');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = url.port ? Number(url.port) : 6379;
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new ConfigError(`store.redisUrl: database "${url.pathname.slice(1)}" is not a number`);
  const tls = tlsOptions(store, url.protocol === 'rediss:');
  return {
    options: {
      host,
      port,
      db,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...creds,
      ...(tls ? { tls } : {}),
    },
    where: `${host}:${port}`,
    label: redactUrl(store.redisUrl),
    sentinel: undefined,
    waitReplicas: store.redis.waitReplicas ?? 0,
    ...common,
  };
}

/** The connection of a bare URL, every other setting at its default. */
export function redisConnectionFromUrl(url: string): RedisConnection {
  const store = validate(StoreConfig, { redisUrl: url }, 'store');
  return redisConnection(store) as RedisConnection;
}
