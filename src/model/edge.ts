// What the edges read besides origins: a domain's cache rules and origin circuit breaker
// (fields of `cdn:dom:{domain}`), a node's override (`cdn:edge:{node}`) and purge requests.
// Defaults live in the edge (edge/lua/cirrus/config.lua) and are documented in the README.
import { Type, type Static } from '@sinclair/typebox';
import { isIP } from 'node:net';
import { ValidationError } from '../lib/errors.js';

/** A path glob: `*` matches any run of characters; anchored at both ends. */
const PathGlob = Type.String({
  pattern: '^[/*][^\\s]*$',
  maxLength: 256,
  description: 'path glob, e.g. /static/* or *.m3u8',
});
const QueryParamGlob = Type.String({ pattern: '^[A-Za-z0-9_.*\\[\\]-]{1,64}$' });
const Seconds = (max: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: max, description });

export const DomainCache = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
    paths: Type.Optional(
      Type.Array(PathGlob, {
        maxItems: 64,
        description: 'cached paths; default ["/static/*", "/assets/*"]',
      }),
    ),
    extensions: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9]{1,16}$' }), {
        maxItems: 128,
        description: 'cached file extensions; default css, js, images and fonts',
      }),
    ),
    ttl: Type.Optional(Seconds(31_536_000, 'seconds a cached path stays fresh; default 3600')),
    rules: Type.Optional(
      Type.Array(
        Type.Object(
          { match: PathGlob, ttl: Seconds(31_536_000, '0: never cached') },
          { additionalProperties: false },
        ),
        {
          maxItems: 64,
          description:
            'first match wins, before paths/extensions; default *.m3u8 2 s, *.ts and *.m4s 1 day',
        },
      ),
    ),
    keyParams: Type.Optional(
      Type.Array(QueryParamGlob, {
        maxItems: 64,
        description: 'only these query parameters are part of the cache key',
      }),
    ),
    dropParams: Type.Optional(
      Type.Array(QueryParamGlob, {
        maxItems: 64,
        description:
          'without keyParams: parameters left out of the key; default utm_*, _t, _, rnd, fbclid, gclid',
      }),
    ),
    negativeTtl: Type.Optional(
      Seconds(86_400, 'seconds 403/404/410 answers stay cached; default 10'),
    ),
  },
  { additionalProperties: false },
);
export type DomainCache = Static<typeof DomainCache>;

export const OriginBreaker = Type.Object(
  {
    errorRatio: Type.Optional(
      Type.Number({ minimum: 0.01, maximum: 1, description: 'default 0.5' }),
    ),
    minRequests: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: 'default 5' }),
    ),
    windowSec: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 3600, description: 'default 10' }),
    ),
    openSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'default 10' })),
  },
  {
    additionalProperties: false,
    description: 'per-origin circuit breaker on the edges',
  },
);
export type OriginBreaker = Static<typeof OriginBreaker>;

/** A signing key: the first of a domain's keys signs, every listed key verifies. */
const SigningKey = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'key id, named in tokens' }),
    secret: Type.String({
      minLength: 16,
      maxLength: 256,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'HMAC-SHA256 key (printable ASCII, at least 16 characters)',
    }),
  },
  { additionalProperties: false },
);

/** Signed URLs (README, "Edge fleet"): which requests need a token and where it travels. */
export const DomainSigning = Type.Object(
  {
    keys: Type.Array(SigningKey, {
      minItems: 1,
      maxItems: 2,
      description: 'the first signs, both verify: add the new key second, then swap, then drop',
    }),
    param: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,32}$',
        description: 'query parameter; default token',
      }),
    ),
    cookie: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,32}$',
        description: 'cookie; default cirrus_token',
      }),
    ),
    paths: Type.Optional(
      Type.Array(PathGlob, { maxItems: 64, description: 'paths that need a token; default all' }),
    ),
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
  },
  { additionalProperties: false },
);
export type DomainSigning = Static<typeof DomainSigning>;

/** What GET returns of `signing`: the key ids, never the secrets. */
export const DomainSigningView = Type.Object({
  keys: Type.Array(Type.Object({ id: Type.String() })),
  param: Type.String(),
  cookie: Type.String(),
  paths: Type.Optional(Type.Array(Type.String())),
  enabled: Type.Boolean(),
});
export type DomainSigningView = Static<typeof DomainSigningView>;

export function signingView(s: DomainSigning): DomainSigningView {
  return {
    keys: s.keys.map((k) => ({ id: k.id })),
    param: s.param ?? 'token',
    cookie: s.cookie ?? 'cirrus_token',
    ...(s.paths ? { paths: s.paths } : {}),
    enabled: s.enabled ?? true,
  };
}

const Cidr = Type.String({
  pattern: '^[0-9A-Fa-f:.]{2,45}(/[0-9]{1,3})?$',
  description: 'an address or prefix, e.g. 203.0.113.0/24 or 2001:db8::/32',
});

/** Per-client request limits of a domain on every edge. */
export const DomainLimits = Type.Object(
  {
    rps: Type.Optional(
      Type.Number({ minimum: 0.01, maximum: 1_000_000, description: 'requests per second' }),
    ),
    burst: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000_000,
        description: 'requests above rps; default 0',
      }),
    ),
    connections: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'requests in flight' }),
    ),
    clientHeader: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9-]{1,64}$',
        description: 'header naming the client (first address) when the peer is trusted',
      }),
    ),
    trustedSources: Type.Optional(
      Type.Array(Cidr, { maxItems: 64, description: 'peers whose clientHeader is believed' }),
    ),
  },
  { additionalProperties: false },
);
export type DomainLimits = Static<typeof DomainLimits>;

/** Origin shield: the parent node or pool an edge asks on a miss before the origin. */
export const DomainShield = Type.Object(
  {
    node: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$' })),
    pool: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description: "the parents' HTTP port; default 80",
      }),
    ),
  },
  { additionalProperties: false, description: 'exactly one of node, pool' },
);
export type DomainShield = Static<typeof DomainShield>;

function validCidr(c: string): boolean {
  const [addr = '', bits] = c.split('/');
  const v = isIP(addr);
  if (v === 0) return false;
  return bits === undefined || Number(bits) <= (v === 4 ? 32 : 128);
}

/**
 * Checks the edge fields TypeBox cannot express; throws a ValidationError naming the field
 * (`at` is the path of the object holding them, e.g. `body` or `body.domains.x`).
 */
export function checkEdgeFields(
  b: {
    limits?: DomainLimits | undefined;
    shield?: DomainShield | undefined;
    signing?: DomainSigning | undefined;
  },
  at: string,
): void {
  if (b.shield && (b.shield.node === undefined) === (b.shield.pool === undefined))
    throw new ValidationError(`${at}.shield needs exactly one of node, pool`, `${at}.shield`);
  b.limits?.trustedSources?.forEach((c, i) => {
    if (!validCidr(c))
      throw new ValidationError(
        `${at}.limits.trustedSources[${i}]: ${c} is not an address or prefix`,
        `${at}.limits.trustedSources[${i}]`,
      );
  });
  if (b.limits && (b.limits.clientHeader === undefined) !== (b.limits.trustedSources === undefined))
    throw new ValidationError(
      `${at}.limits: clientHeader and trustedSources go together (a client header is believed only from trusted sources)`,
      `${at}.limits.clientHeader`,
    );
  const ids = b.signing?.keys.map((k) => k.id) ?? [];
  if (new Set(ids).size !== ids.length)
    throw new ValidationError(`${at}.signing.keys: key ids must differ`, `${at}.signing.keys`);
}

const EdgeRedirect = Type.Object(
  {
    to: Type.String({
      pattern: '^https?://[^\\s/]+$',
      description: 'scheme and host the request URI is appended to',
    }),
    paths: Type.Optional(
      Type.Array(PathGlob, { maxItems: 64, description: 'default: every path' }),
    ),
    minBytes: Type.Optional(
      Type.Integer({ minimum: 0, description: 'only bodies larger than this are redirected' }),
    ),
    status: Type.Optional(
      Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(307), Type.Literal(308)], {
        description: 'default 302',
      }),
    ),
  },
  { additionalProperties: false },
);

const EdgeDomainOverride = Type.Object(
  {
    cache: Type.Optional(DomainCache),
    breaker: Type.Optional(OriginBreaker),
    redirect: Type.Optional(EdgeRedirect),
    shield: Type.Optional(DomainShield),
  },
  { additionalProperties: false },
);

/** Body of PUT /api/v1/nodes/{id}/edge, stored as `cdn:edge:{id}`. */
export const EdgeOverride = Type.Object(
  {
    ...EdgeDomainOverride.properties,
    domains: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z0-9.-]{1,253}$' }), EdgeDomainOverride, {
        description: 'per-domain overrides, merged over the node-wide ones',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EdgeOverride = Static<typeof EdgeOverride>;

/** Body of POST /api/v1/purge: absolute URLs, URL prefixes, or whole domains. */
export const PurgeRequest = Type.Object(
  {
    urls: Type.Optional(
      Type.Array(Type.String({ pattern: '^https?://', maxLength: 4096 }), { maxItems: 1000 }),
    ),
    prefixes: Type.Optional(
      Type.Array(Type.String({ pattern: '^https?://', maxLength: 4096 }), { maxItems: 1000 }),
    ),
    domains: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 1000 }),
    ),
  },
  { additionalProperties: false },
);
export type PurgeRequest = Static<typeof PurgeRequest>;

/** Body of POST /api/v1/prewarm: absolute URLs, or a base URL and paths under it. */
export const PrewarmRequest = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.:-]{1,64}$',
        description: 'repeat a request with the same id and edges that applied it skip it',
      }),
    ),
    urls: Type.Optional(
      Type.Array(Type.String({ pattern: '^https?://', maxLength: 4096 }), { maxItems: 10000 }),
    ),
    base: Type.Optional(
      Type.String({ pattern: '^https?://', maxLength: 4096, description: 'prefix of paths' }),
    ),
    paths: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 10000 }),
    ),
    concurrency: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 32,
        description: 'fetches in flight per edge; default 4',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PrewarmRequest = Static<typeof PrewarmRequest>;

/** Body of POST /api/v1/domains/{domain}/sign-url. */
export const SignUrlRequest = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', maxLength: 4096, description: 'the URL to sign' }),
    ttl: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'seconds valid; default 300' }),
    ),
    clientPrefix: Type.Optional(Cidr),
    pathPrefix: Type.Optional(
      Type.String({
        pattern: '^/[^\\s~]*$',
        maxLength: 1024,
        description: 'token valid for every path under this prefix instead of the one path',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SignUrlRequest = Static<typeof SignUrlRequest>;

export { validCidr };
