// The GSLB policy document (`cdn:gslb:policy`): pools with their coordinates and
// coverage, the global pool chain, the operator CIDR maps and the global last resort.
// One document, so an operator changes the whole policy in one validated write.
import { Type, type Static } from '@sinclair/typebox';

export const POOL_PATTERN = '^[a-z0-9][a-z0-9_-]{0,31}$';
export const PoolName = Type.String({ pattern: POOL_PATTERN });

export const ChainStep = Type.Union(
  [
    Type.Literal('asn'),
    Type.Literal('country'),
    Type.Literal('continent'),
    Type.Literal('nearest'),
    Type.Literal('default'),
  ],
  {
    description:
      'asn → pools covering the ASN; country, continent likewise; nearest by coordinates',
  },
);
export type ChainStep = Static<typeof ChainStep>;

export const LastResort = Type.Union(
  [Type.Literal('backup'), Type.Literal('fail-open'), Type.Literal('fail-closed')],
  {
    description:
      "when no pool has enough healthy nodes: the origin's (backup) addresses, the picks with health ignored, or NODATA",
  },
);
export type LastResort = Static<typeof LastResort>;

const CountryCode = Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2' });
const ContinentCode = Type.Union(
  ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'].map((c) => Type.Literal(c)),
  { description: 'GeoIP continent code' },
);
const Asn = Type.Integer({ minimum: 0, maximum: 4294967295 });

export const PoolSpec = Type.Object(
  {
    lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
    lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
    countries: Type.Array(CountryCode, { default: [] }),
    continents: Type.Array(ContinentCode, { default: [] }),
    asns: Type.Array(Asn, { default: [] }),
    minHealthy: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 1,
      description: 'the pool is skipped with fewer healthy nodes (per address family)',
    }),
  },
  { additionalProperties: false },
);
export type PoolSpec = Static<typeof PoolSpec>;

export const NetMapping = Type.Object(
  {
    cidr: Type.String({ minLength: 3, maxLength: 43, description: 'IPv4 or IPv6 CIDR' }),
    pool: Type.Optional(PoolName),
    country: Type.Optional(CountryCode),
    continent: Type.Optional(ContinentCode),
    asn: Type.Optional(Asn),
  },
  { additionalProperties: false },
);
export type NetMapping = Static<typeof NetMapping>;

export const DEFAULT_CHAIN: readonly ChainStep[] = [
  'asn',
  'country',
  'continent',
  'nearest',
  'default',
];

export const GslbPolicy = Type.Object(
  {
    // additionalProperties: false makes the key pattern binding (a Record alone only types matching keys).
    pools: Type.Record(PoolName, PoolSpec, { default: {}, additionalProperties: false }),
    chain: Type.Array(ChainStep, { minItems: 1, maxItems: 5, default: [...DEFAULT_CHAIN] }),
    defaultPool: Type.Union([PoolName, Type.Null()], {
      default: null,
      description: "the 'default' step's pool; null = every node of the fleet",
    }),
    lastResort: Type.Union([LastResort], { default: 'backup' }),
    nets: Type.Array(NetMapping, {
      default: [],
      maxItems: 100000,
      description: 'operator CIDR maps; they win over GeoIP (longest prefix first)',
    }),
    loadBound: Type.Union([Type.Number({ minimum: 1, maximum: 100 }), Type.Null()], {
      default: null,
      description:
        'bounded-load hashing: no node takes more than this × its fair share of domains; null = off',
    }),
  },
  { additionalProperties: false },
);
export type GslbPolicy = Static<typeof GslbPolicy>;
