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
    tcpMaxConnectionsPerPrefix: Type.Integer({
      minimum: 0,
      default: 100,
      description: 'TCP connections one client /24 (IPv4) or /56 (IPv6) may hold; 0 = unlimited',
    }),
    tcpMaxOutstanding: Type.Integer({
      minimum: 0,
      default: 64,
      description:
        'answers owed on one TCP connection (transfers, UPDATE) before it is read further; 0 = unlimited',
    }),
    tcpMaxQueriesPerConnection: Type.Integer({
      minimum: 0,
      default: 0,
      description: '0 = unlimited',
    }),
    proxyProtocol: Type.Object(
      {
        allow: Type.Array(Type.String({ minLength: 2, maxLength: 43 }), {
          default: [],
          description:
            'source CIDRs (load balancers, dnsdist) whose PROXY v2 headers are accepted on UDP and TCP; a header from elsewhere is dropped',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    nsid: Type.String({
      maxLength: 128,
      default: '',
      description: 'RFC 5001 NSID payload; empty disables',
    }),
    workers: Type.Integer({
      minimum: 0,
      maximum: 64,
      default: 0,
      description:
        'DNS_WORKERS: processes answering UDP on a shared socket; 0 = the main process answers',
    }),
    udpBatch: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], {
      default: 'auto',
      description:
        'CIRRUS_UDP_BATCH: UDP through the recvmmsg/sendmmsg addon (native/udp-batch): auto = when it is built (and, in DNS workers, with reusePort), on = required (start fails without it), off = node:dgram',
    }),
    cookies: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'DNS_COOKIES: RFC 7873 cookies, server cookies per RFC 9018 (secrets shared through the store)',
        }),
        rotateHours: Type.Integer({
          minimum: 2,
          maximum: 8760,
          default: 24,
          description:
            'hours between secret rotations (above the hour a cookie lives, RFC 9018 §5)',
        }),
        pollSeconds: Type.Integer({
          minimum: 1,
          maximum: 3600,
          default: 30,
          description: 'how often an instance reads the shared secrets to follow a rotation',
        }),
        demand: Type.Boolean({
          default: false,
          description:
            'BADCOOKIE to UDP requests with a client cookie but no valid server cookie (RFC 7873 §5.2.3, for times of attack)',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    rrl: Type.Object(
      {
        rate: Type.Integer({
          minimum: 0,
          maximum: 1_000_000,
          default: 200,
          description:
            "DNS_RRL_RATE: UDP responses a second per (client prefix, class, name), NSD's default; 0 turns rate limiting off",
        }),
        slip: Type.Integer({
          minimum: 0,
          maximum: 100,
          default: 2,
          description:
            'every slip-th limited response goes out with TC=1 (a resolver retries over TCP); 0 drops all',
        }),
        ipv4Prefix: Type.Integer({ minimum: 8, maximum: 32, default: 24 }),
        ipv6Prefix: Type.Integer({ minimum: 16, maximum: 128, default: 56 }),
        allow: Type.Array(Type.String(), {
          default: [],
          description: 'client networks (CIDR) never limited, e.g. your own resolvers',
        }),
        slots: Type.Integer({
          minimum: 1024,
          maximum: 16_777_216,
          default: 131_072,
          description: 'buckets in the table: its memory bound (about 24 bytes each)',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    shed: Type.Object(
      {
        maxLagMs: Type.Integer({
          minimum: 0,
          maximum: 10_000,
          default: 150,
          description:
            'UDP queries are dropped unanswered while the event loop lags more than this (ms; under the 376 ms Unbound waits); 0 = never',
        }),
        sampleMs: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 20,
          description: 'period of the lag timer (ms)',
        }),
        maxBacklogMs: Type.Integer({
          minimum: 0,
          maximum: 10_000,
          default: 0,
          description:
            'UDP queries are dropped unanswered, oldest first, once the socket has been backlogged (every loop turn read a full batch) this long (ms), until it is drained; so what is answered waited about this long at most; 0 = never (the default)',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
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

/**
 * ExternalDNS webhook provider (src/externaldns): its own listener, since ExternalDNS's
 * webhook client sends no Authorization header and expects a sidecar on localhost:8888.
 */
export const ExternalDnsConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'serve the ExternalDNS webhook API on externalDns.listen',
    }),
    listen: Type.String({
      pattern: LISTEN_PATTERN,
      default: '127.0.0.1:8888',
      description:
        'where ExternalDNS (--webhook-provider-url) reaches the webhook API; no token is asked, keep it on loopback or a private address',
    }),
    maxBodyBytes: Type.Integer({
      minimum: 1024,
      maximum: 256 * 1024 * 1024,
      default: 32 * 1024 * 1024,
      description: 'request bodies above this get 413 (ExternalDNS caps its bodies at 32 MiB)',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type ExternalDnsConfig = Static<typeof ExternalDnsConfig>;

const NullableString = (description: string) =>
  Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description });

/** Credentials, TLS and write guarantees of every Redis connection Cirrus opens. */
export const RedisConnectionConfig = Type.Object(
  {
    username: NullableString('REDIS_USERNAME: ACL user (overrides the one in redisUrl)'),
    password: NullableString('REDIS_PASSWORD: its password (overrides the one in redisUrl)'),
    tls: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'REDIS_TLS: TLS to the data nodes (implied by a rediss:// URL)',
        }),
        ca: NullableString('REDIS_TLS_CA: PEM file of the CA that signed the server certificates'),
        cert: NullableString(
          'REDIS_TLS_CERT: client certificate (PEM) when the server asks for one',
        ),
        key: NullableString('REDIS_TLS_KEY: its private key (PEM)'),
        servername: NullableString('name checked in the server certificate; null = the host'),
      },
      { additionalProperties: false, default: {} },
    ),
    readyWaitMs: Type.Integer({
      minimum: 0,
      maximum: 60_000,
      default: 2000,
      description:
        'a command while the connection is down waits this long for it (a blip, a failover) before STORE_UNAVAILABLE',
    }),
    waitReplicas: Type.Union([Type.Integer({ minimum: 0, maximum: 16 }), Type.Null()], {
      default: null,
      description:
        'a write is acknowledged once this many replicas hold it (WAIT); null = 1 with sentinels, else 0',
    }),
    waitTimeoutMs: Type.Integer({
      minimum: 1,
      maximum: 60_000,
      default: 1000,
      description: 'how long a write waits for its replicas before STORE_UNAVAILABLE',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** Redis Sentinel: Cirrus asks the sentinels for the master and follows it on failover. */
export const SentinelConfig = Type.Object(
  {
    addresses: Type.Array(Listen, {
      default: [],
      description:
        'REDIS_SENTINELS (comma-separated): host:port of each sentinel; [] = no Sentinel',
    }),
    name: Type.String({
      pattern: '^[A-Za-z0-9_.-]{1,64}$',
      default: 'mymaster',
      description: 'REDIS_SENTINEL_NAME: the master name the sentinels monitor',
    }),
    username: NullableString('REDIS_SENTINEL_USERNAME: ACL user on the sentinels'),
    password: NullableString('REDIS_SENTINEL_PASSWORD: password of the sentinels'),
    tls: Type.Boolean({
      default: false,
      description: 'REDIS_SENTINEL_TLS: TLS to the sentinels too (same CA and client certificate)',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const StoreConfig = Type.Object(
  {
    redisUrl: Type.Union([Type.String({ pattern: '^rediss?://' }), Type.Null()], {
      default: null,
      description:
        'REDIS_URL; null = the embedded store, unless sentinel.addresses names sentinels',
    }),
    file: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: 'data/cirrus-state.json',
      description: 'embedded store persistence (STATE_FILE); null = memory only',
    }),
    writeDelayMs: Type.Integer({
      minimum: 0,
      maximum: 10_000,
      default: 100,
      description:
        'embedded store: a change reaches the file at most this long after it (a crash loses this window)',
    }),
    redis: RedisConnectionConfig,
    sentinel: SentinelConfig,
  },
  { additionalProperties: false, default: {} },
);

export const GslbConfig = Type.Object(
  {
    ttl: Seconds(60, 'default TTL of base-name answers', 86400),
    failoverTtl: Seconds(20, 'TTL while answering with origin (backup) addresses', 86400),
    healthTtlFloor: Seconds(
      5,
      'no health bound cuts a TTL below this (an answer whose health could flip sooner still gets it)',
      3600,
    ),
    unknownTtl: Seconds(
      10,
      'TTL while a node the decision consulted has no known health (start-up, a new node)',
      86400,
    ),
    answers: Type.Integer({
      minimum: 1,
      maximum: 16,
      default: 1,
      description: 'default picks per answer',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** How a node is probed; every field has a default here and may be overridden per node. */
export const ProbeFields = {
  type: Type.Union(
    [Type.Literal('http'), Type.Literal('https'), Type.Literal('tcp'), Type.Literal('none')],
    {
      default: 'http',
      description: "'none' leaves the node's health to the API (its `active` flag)",
    },
  ),
  port: Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.Null()], {
    default: null,
    description: 'null = 80 for http and tcp, 443 for https',
  }),
  path: Type.String({ pattern: '^/', maxLength: 1024, default: '/healthz' }),
  host: Type.Union([Type.String({ maxLength: 253 }), Type.Null()], {
    default: null,
    description: 'Host header and TLS SNI; null = the node address',
  }),
  expect: Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), {
    minItems: 1,
    default: [200],
    description: 'HTTP status codes that count as up',
  }),
  body: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], {
    default: null,
    description: 'text the response body must contain; null = any body',
  }),
  timeoutMs: Type.Integer({ minimum: 50, maximum: 60000, default: 2000 }),
  intervalSec: Type.Integer({ minimum: 1, maximum: 3600, default: 5 }),
  rise: Type.Integer({ minimum: 1, maximum: 100, default: 2, description: 'successes to go up' }),
  fall: Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'failures to go down' }),
  tlsVerify: Type.Boolean({
    default: false,
    description: 'verify the https probe certificate against `host`',
  }),
  method: Type.Union(
    ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'].map((m) => Type.Literal(m)),
    { default: 'GET', description: 'HTTP(S) request method' },
  ),
  headers: Type.Record(
    Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$" }),
    Type.String({ maxLength: 1024, pattern: '^[^\\r\\n]*$' }),
    {
      default: {},
      maxProperties: 32,
      additionalProperties: false,
      description: "extra request headers (Host is `host`); a node's map replaces the default one",
    },
  ),
  bodyRegex: Type.Union([Type.String({ minLength: 1, maxLength: 1024 }), Type.Null()], {
    default: null,
    description: 'JavaScript regular expression the body (first 64 KiB) must match; null = none',
  }),
  json: Type.Union(
    [
      Type.Object(
        {
          path: Type.String({
            minLength: 1,
            maxLength: 256,
            description: 'JSON path subset: $, .name, ["name"], [index]',
          }),
          equals: Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ],
    {
      default: null,
      description: 'the body is JSON and the value at `path` equals `equals`; null = no check',
    },
  ),
  certExpiryDays: Type.Union([Type.Integer({ minimum: 0, maximum: 3650 }), Type.Null()], {
    default: null,
    description: 'https: act when the certificate expires within this many days; null = never',
  }),
  certExpiry: Type.Union([Type.Literal('down'), Type.Literal('warn')], {
    default: 'down',
    description:
      'what a certificate inside certExpiryDays does: the probe fails, or passes with a warning',
  }),
};
export const ProbeSpec = Type.Object(ProbeFields, { additionalProperties: false, default: {} });
export type ProbeSpec = Static<typeof ProbeSpec>;

export const WebhookConfig = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
    secret: Type.String({
      minLength: 16,
      maxLength: 256,
      description: 'HMAC-SHA256 key of X-Cirrus-Signature',
    }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000 }),
  },
  { additionalProperties: false },
);

export const HealthEventsConfig = Type.Object(
  {
    streamMaxLen: Type.Integer({
      minimum: 0,
      maximum: 1000000,
      default: 10000,
      description: 'about this many transitions kept in cdn:health:events; 0 = no stream',
    }),
    webhooks: Type.Array(WebhookConfig, { maxItems: 16, default: [] }),
    queue: Type.Integer({
      minimum: 1,
      maximum: 100000,
      default: 1000,
      description: 'deliveries waiting per webhook; the oldest is dropped beyond it',
    }),
    attempts: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 6,
      description: 'tries per delivery',
    }),
    backoffMs: Type.Integer({
      minimum: 10,
      maximum: 600000,
      default: 1000,
      description: 'wait before the second try; doubled after each failure (capped at 5 min)',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const HealthConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'run health probes in this instance' }),
    probe: ProbeSpec,
    concurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 32 }),
    recheckMs: Type.Integer({
      minimum: 0,
      maximum: 60000,
      default: 500,
      description: 'quick recheck after a first failure; 0 disables',
    }),
    startup: Type.Union([Type.Literal('last'), Type.Literal('up'), Type.Literal('down')], {
      default: 'last',
      description: "state before the first probes settle: the stored one ('last'), up or down",
    }),
    quorum: Type.Union([Type.Literal('majority'), Type.Integer({ minimum: 1, maximum: 64 })], {
      default: 'majority',
      description: 'instances that must see a node down for it to be down',
    }),
    instanceId: Type.Union([Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }), Type.Null()], {
      default: null,
      description: 'this instance in cdn:health:{node}:{instance}; null = host name and pid',
    }),
    viewTtlSec: Type.Integer({
      minimum: 5,
      maximum: 86400,
      default: 60,
      description: "an instance's health view expires this long after its last probe",
    }),
    lockTtlMs: Type.Integer({
      minimum: 1000,
      maximum: 600000,
      default: 15000,
      description: 'leader lock for the shared schedules',
    }),
    perTarget: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 2,
      description: 'probes in flight at once to one target address',
    }),
    events: HealthEventsConfig,
  },
  { additionalProperties: false, default: {} },
);

export const GeoConfig = Type.Object(
  {
    databases: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        '.mmdb files (GeoIP2/GeoLite2 Country, City, ASN or country_code style); earlier files win per field. Not given: the bundled ip-location-db country database; [] turns GeoIP off',
    }),
    watchIntervalMs: Type.Integer({
      minimum: 100,
      maximum: 3600000,
      default: 2000,
      description: 'how often the files are checked for replacement',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const DebugConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'answer whoami.<zone> and _explain.<base name> TXT',
    }),
    allow: Type.Array(Type.String({ minLength: 2, maxLength: 43 }), {
      default: ['0.0.0.0/0', '::/0'],
      description: 'source CIDRs allowed the debug names; others get REFUSED',
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
    lkgFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: 'data/last-known-good.lkg',
      description:
        'with the Redis store: the live snapshot kept on disk, served at start when Redis is unreachable or emptied; null disables',
    }),
    instances: Type.Object(
      {
        intervalMs: Type.Integer({
          minimum: 100,
          maximum: 60000,
          default: 5000,
          description:
            'how often each instance writes its serial and content hash (cdn:instance:{id})',
        }),
        ttlSec: Type.Integer({
          minimum: 1,
          maximum: 3600,
          default: 15,
          description: 'an instance not heard of for this long leaves GET /api/v1/instances',
        }),
        disagreeAfterSec: Type.Integer({
          minimum: 0,
          maximum: 86400,
          default: 30,
          description: 'cirrus_instances_disagreeing counts instances off the majority for longer',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    gate: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'hold a new snapshot that changes more than the bounds below',
        }),
        maxLostNamesShare: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.1,
          description: 'hold when more than this share of served base names disappears',
        }),
        maxLostNames: Type.Integer({
          minimum: 0,
          default: 100,
          description: 'hold when more than this many served base names disappear',
        }),
        maxLostNodesShare: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.5,
          description: 'hold when more than this share of all nodes disappears at once',
        }),
        recheckMs: Type.Integer({
          minimum: 100,
          maximum: 60000,
          default: 2000,
          description: 'while a change is held, look this often for a release',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

/** DNS-01 challenges, the acme-dns API, RFC 2136 updates and certificate issuance (src/acme/). */
export const AcmeConfig = Type.Object(
  {
    zone: Type.Union([Type.String({ pattern: HOSTNAME_PATTERN }), Type.Null()], {
      default: null,
      description: 'zone of the challenge TXT records, inside zone.name; null = acme.<zone.name>',
    }),
    txtTtl: Seconds(30, 'TTL of the challenge TXT records', 3600),
    txtLifetimeSec: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 600,
      description: 'a TXT value leaves the zone this long after it was last written',
    }),
    propagation: Type.Object(
      {
        wait: Type.Boolean({
          default: false,
          description:
            'POST /update and the issuer wait until every secondary serves the new serial',
        }),
        timeoutMs: Type.Integer({
          minimum: 0,
          maximum: 600000,
          default: 30000,
          description: 'longest wait for the secondaries; the reply then says which lag',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    dnsApi: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'serve the acme-dns API (/register, /update, /health) on api.listen',
        }),
        register: Type.Union([Type.Literal('open'), Type.Literal('token')], {
          default: 'open',
          description: "'open' as acme-dns; 'token' needs the admin API bearer token",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    update: Type.Object(
      {
        keys: Type.Array(
          Type.Object(
            {
              key: Type.String({ minLength: 1, description: 'a TSIG key name from xfr.keys' }),
              domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
                minItems: 1,
                description:
                  'customer names the key may publish challenges for (`*.example.com` = below it)',
              }),
            },
            { additionalProperties: false },
          ),
          {
            default: [],
            description:
              'RFC 2136 UPDATE of _acme-challenge.<domain>.<acme zone> TXT; empty: UPDATE gets NOTIMP',
          },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    issuer: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'obtain and renew certificates' }),
        directory: Type.String({
          minLength: 1,
          default: 'https://acme-v02.api.letsencrypt.org/directory',
          description: 'ACME directory URL (ACME_DIRECTORY)',
        }),
        caBundle: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
          default: null,
          description: 'PEM file of extra CAs trusted for the ACME server (ACME_CA_BUNDLE)',
        }),
        email: Type.Union([Type.String({ maxLength: 254 }), Type.Null()], {
          default: null,
          description: 'account contact (ACME_EMAIL)',
        }),
        resolvers: Type.Array(Listen, {
          default: [],
          description: 'DNS servers that check the customer CNAME; empty = the system resolvers',
        }),
        concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
        attempts: Type.Integer({
          minimum: 1,
          maximum: 10,
          default: 3,
          description: 'tries per order before the state becomes failed',
        }),
        backoffMs: Type.Integer({
          minimum: 0,
          maximum: 600000,
          default: 5000,
          description: 'wait before the second try; doubles for each further try',
        }),
        pollMs: Type.Integer({
          minimum: 50,
          maximum: 60000,
          default: 2000,
          description: 'first wait when polling the ACME server for an order',
        }),
        lockTtlMs: Type.Integer({ minimum: 10000, maximum: 3600000, default: 300000 }),
        renewBeforeDays: Type.Integer({
          minimum: 1,
          maximum: 3650,
          default: 30,
          description: 'renew certificates expiring within this many days',
        }),
        renewCron: Type.String({
          minLength: 9,
          default: '23 * * * *',
          description: 'node-cron schedule of the renewal scan',
        }),
        renewSpreadSec: Type.Integer({
          minimum: 0,
          maximum: 86400,
          default: 1800,
          description: 'renewals due in one scan start spread over this window',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type AcmeConfig = Static<typeof AcmeConfig>;
/**
 * What a TSIG key may change in the static zone by RFC 2136 UPDATE (src/xfr/update.ts).
 * Absent: the key updates nothing there (it may still publish ACME challenges through
 * acme.update.keys, and transfer where xfr.secondaries or xfr.allow say so).
 */
export const UpdateScopeConfig = Type.Object(
  {
    names: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      minItems: 1,
      description:
        'owner names inside zone.name the key may change: exact names, or `*.name` for every name strictly below name',
    }),
    types: Type.Array(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]{0,15}$' }), {
      minItems: 1,
      description: 'record types the key may add and delete (A, AAAA, CNAME, TXT, MX, SRV, …)',
    }),
    transfer: Type.Boolean({
      default: true,
      description:
        'the key may also AXFR/IXFR the zone from any address (ExternalDNS and octoDNS read the zone back)',
    }),
  },
  { additionalProperties: false },
);
export type UpdateScopeConfig = Static<typeof UpdateScopeConfig>;

export const TsigKeyConfig = Type.Object(
  {
    name: Type.String({ pattern: HOSTNAME_PATTERN, description: 'key name, as in the secondary' }),
    algorithm: Type.Union(
      [Type.Literal('hmac-sha256'), Type.Literal('hmac-sha512'), Type.Literal('hmac-sha1')],
      { default: 'hmac-sha256', description: 'hmac-sha1 only for old peers' },
    ),
    secret: Type.String({
      pattern: '^[A-Za-z0-9+/]{16,}={0,2}$',
      description: 'base64 secret (tsig-keygen, openssl rand -base64 32)',
    }),
    update: Type.Optional(UpdateScopeConfig),
  },
  { additionalProperties: false },
);
export type TsigKeyConfig = Static<typeof TsigKeyConfig>;

export const SecondaryConfig = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', description: 'label' }),
    address: Type.String({
      minLength: 2,
      maxLength: 45,
      description: 'IPv4 or IPv6 address: where NOTIFY and SOA polls go',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 53 }),
    key: Type.Union([Type.String({ pattern: HOSTNAME_PATTERN }), Type.Null()], {
      default: null,
      description: 'TSIG key (xfr.keys) for NOTIFY and transfers; null = unsigned',
    }),
    notify: Type.Boolean({ default: true, description: 'send NOTIFY on each new serial' }),
  },
  { additionalProperties: false },
);
export type SecondaryConfig = Static<typeof SecondaryConfig>;

export const XfrAllowConfig = Type.Object(
  {
    cidr: Type.String({ minLength: 2, maxLength: 43, description: 'source address or CIDR' }),
    key: Type.Union([Type.String({ pattern: HOSTNAME_PATTERN }), Type.Null()], {
      default: null,
      description: 'TSIG key the request must carry; null = unsigned allowed',
    }),
  },
  { additionalProperties: false },
);

export const XfrConfig = Type.Object(
  {
    keys: Type.Array(TsigKeyConfig, { default: [], description: 'TSIG keys (RFC 8945)' }),
    secondaries: Type.Array(SecondaryConfig, {
      default: [],
      description: 'NSD (or other) secondaries: NOTIFY targets, allowed to transfer with their key',
    }),
    allow: Type.Array(XfrAllowConfig, {
      default: [],
      description: 'further transfer clients (e.g. kdig from an admin host)',
    }),
    journalSize: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 100,
      description: 'IXFR journal: how many serial changes are kept',
    }),
    notifyTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 2000 }),
    notifyRetryMs: Type.Integer({
      minimum: 10,
      maximum: 600000,
      default: 1000,
      description: 'first NOTIFY retry; doubles up to notifyMaxRetryMs until acknowledged',
    }),
    notifyMaxRetryMs: Type.Integer({ minimum: 10, maximum: 3600000, default: 60000 }),
    pollIntervalMs: Type.Integer({
      minimum: 100,
      maximum: 3600000,
      default: 10000,
      description: "how often each secondary's serial is polled over DNS (SOA query)",
    }),
  },
  { additionalProperties: false, default: {} },
);
export type XfrConfig = Static<typeof XfrConfig>;

export const DnssecConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'DNSSEC=on: sign every answer online with a combined signing key per zone, created on first start and kept in the store',
    }),
    algorithm: Type.Union([Type.Literal('ecdsap256sha256'), Type.Literal('ed25519')], {
      default: 'ecdsap256sha256',
      description: 'DNSSEC_ALGORITHM: the algorithm of keys created from now on (13 or 15)',
    }),
    validityDays: Type.Integer({
      minimum: 2,
      maximum: 90,
      default: 14,
      description: 'how long a new signature is valid (before jitter)',
    }),
    refreshDays: Type.Integer({
      minimum: 1,
      maximum: 60,
      default: 7,
      description:
        'a signature is replaced once less than this is left of it; signed transfers are re-signed (serial bump) at half this interval',
    }),
    jitterHours: Type.Integer({
      minimum: 0,
      maximum: 240,
      default: 24,
      description: 'up to this much added to each expiration at random, so re-signing spreads out',
    }),
    inceptionOffsetSeconds: Type.Integer({
      minimum: 0,
      maximum: 86400,
      default: 3600,
      description: 'signature inception this far in the past (resolvers with slow clocks)',
    }),
    keyTtl: Type.Integer({
      minimum: 60,
      maximum: 604800,
      default: 3600,
      description: 'TTL of DNSKEY, CDS and CDNSKEY',
    }),
    parentDsTtl: Type.Integer({
      minimum: 0,
      maximum: 604800,
      default: 86400,
      description:
        "TTL of the zone's DS at the parent (TTLds of RFC 7583): after the parent names the new key, the old key signs this long more, plus parentPropagationSeconds",
    }),
    parentPropagationSeconds: Type.Integer({
      minimum: 0,
      maximum: 604800,
      default: 3600,
      description: "how long the parent's servers take to serve a new DS (DprpP of RFC 7583)",
    }),
    rolloverTimescale: Type.Number({
      minimum: 0.001,
      maximum: 1,
      default: 1,
      description:
        'multiplies every key rollover interval; below 1 only for tests against resolvers whose caches are capped to the same fraction of the TTLs',
    }),
    signatureCacheEntries: Type.Integer({
      minimum: 1000,
      maximum: 10000000,
      default: 50000,
      description:
        'signatures kept for reuse per process (about 0.9 kB each, bench/dnssec-memory.ts); a tenth of them for denial proofs of nonexistent names',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type DnssecConfig = Static<typeof DnssecConfig>;

export const Config = Type.Object(
  {
    zone: ZoneConfig,
    dns: DnsConfig,
    api: ApiConfig,
    store: StoreConfig,
    gslb: GslbConfig,
    snapshot: SnapshotConfig,
    health: HealthConfig,
    geo: GeoConfig,
    debug: DebugConfig,
    acme: AcmeConfig,
    xfr: XfrConfig,
    externalDns: ExternalDnsConfig,
    dnssec: DnssecConfig,
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
