// The configuration schema: every field, its type and its documented default. The same
// TypeBox schemas validate the config file, the environment overrides and API bodies.
import { Type, type Static } from '@sinclair/typebox';

export const HOSTNAME_PATTERN =
  '^(?=.{1,253}\\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\\.?$';
/** host:port, with IPv6 hosts in brackets: 127.0.0.1:5353, [::1]:5353 */
export const LISTEN_PATTERN = '^(?:\\[[0-9A-Fa-f:.]+\\]|[0-9.]+|[A-Za-z0-9.-]+):\\d{1,5}$';

export const HostName = Type.String({ pattern: HOSTNAME_PATTERN, description: 'a DNS host name' });
export const IPv4 = Type.String({ format: 'ipv4' });
export const IPv6 = Type.String({ format: 'ipv6' });
const Listen = Type.String({ pattern: LISTEN_PATTERN, description: 'host:port, [v6]:port' });
const Seconds = (def: number, description: string, max = 0x7fffffff) =>
  Type.Integer({ minimum: 0, maximum: max, default: def, description });

export const NameServer = Type.Object(
  {
    name: HostName,
    ipv4: Type.Array(IPv4, {
      default: [],
      description: 'glue A addresses (needed when the name is inside the zone)',
    }),
    ipv6: Type.Array(IPv6, { default: [], description: 'glue AAAA addresses' }),
  },
  { additionalProperties: false },
);
export type NameServer = Static<typeof NameServer>;

export const SoaConfig = Type.Object(
  {
    mname: Type.Optional(HostName),
    rname: Type.Optional(HostName),
    refresh: Seconds(3600, 'secondaries check for a new serial this often'),
    retry: Seconds(600, 'retry interval after a failed refresh'),
    expire: Seconds(1209600, 'secondaries stop answering after this long without the master'),
    minimum: Seconds(60, 'negative-answer TTL (RFC 2308)'),
    ttl: Seconds(3600, 'TTL of the SOA record itself'),
  },
  { additionalProperties: false, default: {} },
);

export const ZoneConfig = Type.Object(
  {
    name: Type.String({
      pattern: HOSTNAME_PATTERN,
      default: 'cdn.example.net',
      description: 'the CNAME base zone (CNAME_BASE_DOMAIN)',
    }),
    ttl: Seconds(3600, 'default TTL of static records and of the apex NS set'),
    soa: SoaConfig,
    ns: Type.Array(NameServer, {
      default: [],
      description: 'apex NS set with glue; default: ns1.<zone> at 127.0.0.1',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const DnsConfig = Type.Object(
  {
    listen: Type.Array(Listen, {
      minItems: 1,
      default: ['127.0.0.1:5353'],
      description: 'each address serves UDP and TCP (DNS_LISTEN, comma-separated)',
    }),
    udpSize: Type.Integer({
      minimum: 512,
      maximum: 4096,
      default: 1232,
      description: 'our EDNS UDP payload size',
    }),
    tcpIdleTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600000,
      default: 10000,
      description: 'RFC 7766 §6.2.3 idle timeout',
    }),
    tcpMaxConnections: Type.Integer({ minimum: 1, default: 1000 }),
    tcpMaxQueriesPerConnection: Type.Integer({
      minimum: 0,
      default: 0,
      description: '0 = unlimited',
    }),
    nsid: Type.String({
      maxLength: 128,
      default: '',
      description: 'RFC 5001 NSID payload; empty disables',
    }),
    chaos: Type.Object(
      {
        version: Type.Union([Type.String(), Type.Null()], {
          default: 'Cirrus GSLB',
          description: 'version.bind; null refuses',
        }),
        identity: Type.Union([Type.String(), Type.Null()], {
          default: null,
          description: 'id.server / hostname.bind; null = the host name',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const ApiConfig = Type.Object(
  {
    listen: Type.String({
      pattern: LISTEN_PATTERN,
      default: '127.0.0.1:8080',
      description: 'API_LISTEN',
    }),
    docs: Type.Boolean({ default: true, description: 'serve OpenAPI at /docs' }),
    metricsPublic: Type.Boolean({ default: true, description: '/metrics needs no token' }),
  },
  { additionalProperties: false, default: {} },
);

export const StoreConfig = Type.Object(
  {
    redisUrl: Type.Union([Type.String({ pattern: '^rediss?://' }), Type.Null()], {
      default: null,
      description: 'REDIS_URL; null = the embedded store',
    }),
    file: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: 'data/cirrus-state.json',
      description: 'embedded store persistence (STATE_FILE); null = memory only',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const GslbConfig = Type.Object(
  {
    ttl: Seconds(60, 'default TTL of base-name answers', 86400),
    failoverTtl: Seconds(20, 'TTL while answering with origin (backup) addresses', 86400),
    answers: Type.Integer({
      minimum: 1,
      maximum: 16,
      default: 1,
      description: 'default picks per answer',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const SnapshotConfig = Type.Object(
  {
    debounceMs: Type.Integer({
      minimum: 0,
      maximum: 10000,
      default: 25,
      description: 'coalesce change events',
    }),
    maxDelayMs: Type.Integer({
      minimum: 0,
      maximum: 60000,
      default: 250,
      description: 'rebuild at the latest this long after the first change',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const Config = Type.Object(
  {
    zone: ZoneConfig,
    dns: DnsConfig,
    api: ApiConfig,
    store: StoreConfig,
    gslb: GslbConfig,
    snapshot: SnapshotConfig,
    seed: Type.Object(
      {
        dir: Type.Union([Type.String(), Type.Null()], {
          default: 'zones',
          description: 'seed an empty store from this folder (SEED_DIR); null disables',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) =>
            Type.Literal(l),
          ),
          { default: 'info', description: 'LOG_LEVEL' },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;
