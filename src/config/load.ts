// Builds the effective configuration: defaults ← config file (JSON or YAML) ← environment.
// Everything passes one schema; derived defaults (NS set, SOA names) are filled after it,
// then cross-field rules are checked. Any failure names the field it is about.
import { checkProbe } from './probe-check.js';
import { peersProblem } from './peers-check.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import { Config } from './schema.js';
import { validate } from './validate.js';
import { ConfigError, ValidationError, errorMessage } from '../lib/errors.js';
import { isSubdomainOf, normalizeName } from '../lib/dnsname.js';
import { parseCidr } from '../lib/cidr.js';

type Raw = Record<string, unknown>;

/**
 * The GeoIP data used when `geo.databases` is not given: ip-location-db's country
 * database (CC0, IPv4 and IPv6 in one tree), a runtime dependency, so GeoDNS works on a
 * fresh install. An explicit list, even an empty one, replaces it.
 */
export function bundledGeoDatabases(): string[] {
  const file = '@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb';
  try {
    return [createRequire(import.meta.url).resolve(file)];
  } catch (err) {
    throw new ConfigError(
      `the bundled GeoIP database ${file} is not installed (${errorMessage(err)}); list your own in geo.databases, or [] for none`,
      'geo.databases',
    );
  }
}

function hasGeoDatabases(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const geo = (raw as Raw).geo;
  return typeof geo === 'object' && geo !== null && (geo as Raw).databases !== undefined;
}

/** `true`/`false`; anything else is left for the schema to reject, naming the field. */
const bool = (v: string): unknown => (v === 'true' ? true : v === 'false' ? false : v);

/** Environment variables and the config field each one sets. */
export const ENV_OVERRIDES: ReadonlyArray<{
  env: string;
  path: string[];
  parse: (v: string) => unknown;
}> = [
  { env: 'CNAME_BASE_DOMAIN', path: ['zone', 'name'], parse: (v) => v },
  { env: 'REDIS_URL', path: ['store', 'redisUrl'], parse: (v) => (v === '' ? null : v) },
  { env: 'STATE_FILE', path: ['store', 'file'], parse: (v) => (v === '' ? null : v) },
  {
    env: 'REDIS_USERNAME',
    path: ['store', 'redis', 'username'],
    parse: (v) => (v === '' ? null : v),
  },
  {
    env: 'REDIS_PASSWORD',
    path: ['store', 'redis', 'password'],
    parse: (v) => (v === '' ? null : v),
  },
  { env: 'REDIS_TLS', path: ['store', 'redis', 'tls', 'enabled'], parse: (v) => bool(v) },
  {
    env: 'REDIS_TLS_CA',
    path: ['store', 'redis', 'tls', 'ca'],
    parse: (v) => (v === '' ? null : v),
  },
  {
    env: 'REDIS_TLS_CERT',
    path: ['store', 'redis', 'tls', 'cert'],
    parse: (v) => (v === '' ? null : v),
  },
  {
    env: 'REDIS_TLS_KEY',
    path: ['store', 'redis', 'tls', 'key'],
    parse: (v) => (v === '' ? null : v),
  },
  {
    env: 'REDIS_SENTINELS',
    path: ['store', 'sentinel', 'addresses'],
    parse: (v) =>
      v
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
  },
  { env: 'REDIS_SENTINEL_NAME', path: ['store', 'sentinel', 'name'], parse: (v) => v },
  {
    env: 'REDIS_SENTINEL_USERNAME',
    path: ['store', 'sentinel', 'username'],
    parse: (v) => (v === '' ? null : v),
  },
  {
    env: 'REDIS_SENTINEL_PASSWORD',
    path: ['store', 'sentinel', 'password'],
    parse: (v) => (v === '' ? null : v),
  },
  { env: 'REDIS_SENTINEL_TLS', path: ['store', 'sentinel', 'tls'], parse: (v) => bool(v) },
  {
    env: 'DNS_LISTEN',
    path: ['dns', 'listen'],
    parse: (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
  { env: 'API_LISTEN', path: ['api', 'listen'], parse: (v) => v },
  { env: 'DNS_NSID', path: ['dns', 'nsid'], parse: (v) => v },
  { env: 'CIRRUS_UDP_BATCH', path: ['dns', 'udpBatch'], parse: (v) => v.toLowerCase() },
  { env: 'DNS_WORKERS', path: ['dns', 'workers'], parse: (v) => (/^\d+$/.test(v) ? Number(v) : v) },
  {
    env: 'DNS_COOKIES',
    path: ['dns', 'cookies', 'enabled'],
    parse: bool,
  },
  {
    env: 'DNS_RRL_RATE',
    path: ['dns', 'rrl', 'rate'],
    parse: (v) => (/^\d+$/.test(v) ? Number(v) : v),
  },
  {
    env: 'DNSSEC',
    path: ['dnssec', 'enabled'],
    parse: (v) => (/^(on|true|1|yes)$/i.test(v) ? true : /^(off|false|0|no)$/i.test(v) ? false : v),
  },
  { env: 'DNSSEC_ALGORITHM', path: ['dnssec', 'algorithm'], parse: (v) => v.toLowerCase() },
  { env: 'SEED_DIR', path: ['seed', 'dir'], parse: (v) => (v === '' ? null : v) },
  { env: 'LOG_LEVEL', path: ['log', 'level'], parse: (v) => v },
  { env: 'ACME_DIRECTORY', path: ['acme', 'issuer', 'directory'], parse: (v) => v },
  {
    env: 'ACME_CA_BUNDLE',
    path: ['acme', 'issuer', 'caBundle'],
    parse: (v) => (v === '' ? null : v),
  },
  { env: 'ACME_EMAIL', path: ['acme', 'issuer', 'email'], parse: (v) => (v === '' ? null : v) },
  { env: 'GSLB_TTL', path: ['gslb', 'ttl'], parse: (v) => (/^\d+$/.test(v) ? Number(v) : v) },
];

function setPath(obj: Raw, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null) cur[key] = {};
    cur = cur[key] as Raw;
  }
  cur[path[path.length - 1] as string] = value;
}

export function readConfigFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${errorMessage(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${errorMessage(err)}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a mapping at the top level`);
  }
  return parsed as Raw;
}

export interface LoadOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values applied last, e.g. by tests or CLI flags. */
  overrides?: Raw;
}

function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      b &&
      typeof b === 'object' &&
      !Array.isArray(b)
        ? deepMerge(b as Raw, v as Raw)
        : v;
  }
  return out;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.CIRRUS_CONFIG;
  let raw: Raw = file ? readConfigFile(file) : {};
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v !== undefined) setPath(raw, o.path, o.parse(v));
  }
  if (opts.overrides) raw = deepMerge(raw, opts.overrides);
  return finishConfig(raw, file ? `config file ${file}` : 'config');
}

/** Validates a raw config object and fills the defaults that depend on other fields. */
export function finishConfig(raw: unknown, what = 'config'): Config {
  let cfg: Config;
  try {
    cfg = validate(Config, structuredClone(raw), what);
  } catch (err) {
    if (err instanceof ValidationError) throw new ConfigError(err.message, err.field);
    throw err;
  }
  if (!hasGeoDatabases(raw)) cfg.geo.databases = bundledGeoDatabases();
  const zone = normalizeName(cfg.zone.name);
  cfg.zone.name = zone;
  if (cfg.zone.ns.length === 0)
    cfg.zone.ns = [{ name: `ns1.${zone}`, ipv4: ['127.0.0.1'], ipv6: [] }];
  cfg.zone.ns.forEach((ns, i) => {
    ns.name = normalizeName(ns.name);
    if (isSubdomainOf(ns.name, zone) && ns.ipv4.length + ns.ipv6.length === 0) {
      throw new ConfigError(
        `${what}: zone.ns[${i}] ${ns.name} is inside ${zone} and needs glue (ipv4 or ipv6)`,
        `zone.ns[${i}].ipv4`,
      );
    }
  });
  cfg.zone.soa.mname = normalizeName(cfg.zone.soa.mname ?? (cfg.zone.ns[0]?.name as string));
  cfg.zone.soa.rname = normalizeName(cfg.zone.soa.rname ?? `hostmaster.${zone}`);
  try {
    checkProbe(cfg.health.probe, 'health.probe');
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ConfigError(`${what}: ${err.message}`, err.field, err);
    throw err;
  }
  for (const [i, l] of cfg.dns.listen.entries()) checkListen(l, `dns.listen[${i}]`, what);
  for (const [i, l] of cfg.store.sentinel.addresses.entries())
    checkListen(l, `store.sentinel.addresses[${i}]`, what);
  if (cfg.store.redisUrl && cfg.store.sentinel.addresses.length > 0)
    throw new ConfigError(
      `${what}: store.sentinel.addresses and store.redisUrl exclude each other: with sentinels the master's address comes from them (credentials go in store.redis)`,
      'store.sentinel.addresses',
    );
  const tls = cfg.store.redis.tls;
  if ((tls.cert === null) !== (tls.key === null))
    throw new ConfigError(
      `${what}: store.redis.tls.cert and store.redis.tls.key go together`,
      tls.cert === null ? 'store.redis.tls.cert' : 'store.redis.tls.key',
    );
  checkListen(cfg.api.listen, 'api.listen', what);
  if (cfg.dnssec.refreshDays >= cfg.dnssec.validityDays)
    throw new ConfigError(
      `${what}: dnssec.refreshDays (${cfg.dnssec.refreshDays}) must be below dnssec.validityDays (${cfg.dnssec.validityDays}): a signature is replaced once less than refreshDays of it is left`,
      'dnssec.refreshDays',
    );
  cfg.acme.zone = normalizeName(cfg.acme.zone ?? `acme.${zone}`);
  if (!isSubdomainOf(cfg.acme.zone, zone) || cfg.acme.zone === zone) {
    throw new ConfigError(
      `${what}: acme.zone ${cfg.acme.zone} must be a name below zone.name ${zone}`,
      'acme.zone',
    );
  }
  for (const [i, r] of cfg.acme.issuer.resolvers.entries())
    checkListen(r, `acme.issuer.resolvers[${i}]`, what);
  for (const [field, list] of [
    ['debug.allow', cfg.debug.allow],
    ['dns.rrl.allow', cfg.dns.rrl.allow],
    ['dns.proxyProtocol.allow', cfg.dns.proxyProtocol.allow],
  ] as const)
    list.forEach((c, i) => {
      try {
        parseCidr(c);
      } catch (err) {
        throw new ConfigError(`${what}: ${field}[${i}]: ${errorMessage(err)}`, `${field}[${i}]`);
      }
    });
  const peers = peersProblem(
    cfg.xfr.keys,
    cfg.xfr.secondaries,
    cfg.xfr.allow,
    'xfr.',
    normalizeName(cfg.zone.name),
  );
  if (peers) throw new ConfigError(`${what}: ${peers.field}: ${peers.message}`, peers.field);
  return cfg;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not host:port`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

function checkListen(text: string, field: string, what: string): void {
  const { port } = parseListen(text);
  if (port > 65535) throw new ConfigError(`${what}: ${field} port ${port} is above 65535`, field);
}
