// What the edges read besides origins: a domain's cache rules and origin circuit breaker
// (fields of `cdn:dom:{domain}`), a node's override (`cdn:edge:{node}`) and purge requests.
// Defaults live in the edge (edge/lua/cirrus/config.lua) and are documented in the README.
import { Type, type Static } from '@sinclair/typebox';

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
