// What the store holds about domains, edge nodes and API tokens: the TypeBox schemas that
// validate API bodies and seed files, and the shapes the snapshot compiler reads.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { HOSTNAME_PATTERN, IPv4, IPv6, ProbeFields } from '../config/schema.js';
import { ChainStep, LastResort, PoolName, POOL_PATTERN } from '../gslb/policy-model.js';
import { DomainCache, DomainLimits, DomainShield, DomainSigning, OriginBreaker } from './edge.js';

export const Origin = Type.Object(
  {
    address: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'IP address or host name of the origin; IPs double as backup answers',
    }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    protocol: Type.Union([Type.Literal('http'), Type.Literal('https')], { default: 'http' }),
    weight: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
    backup: Type.Boolean({
      default: false,
      description: 'used only when the primary origins fail',
    }),
  },
  { additionalProperties: false },
);
export type Origin = Static<typeof Origin>;

const DomainFields = {
  origins: Type.Array(Origin, { minItems: 1, maxItems: 64 }),
  ttl: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 86400, description: 'answer TTL; default gslb.ttl' }),
  ),
  answers: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 16,
      description: 'edges per answer; default gslb.answers',
    }),
  ),
  chain: Type.Optional(
    Type.Array(ChainStep, { minItems: 1, maxItems: 5, description: 'default: the policy chain' }),
  ),
  pools: Type.Optional(
    Type.Array(PoolName, {
      minItems: 1,
      maxItems: 64,
      description: 'only these pools serve the domain; default: every pool',
    }),
  ),
  lastResort: Type.Optional(LastResort),
  ecs: Type.Optional(
    Type.Boolean({ description: 'use EDNS Client Subnet for this domain; default true' }),
  ),
  spread: Type.Optional(
    Type.Object(
      {
        nodes: Type.Integer({
          minimum: 2,
          maximum: 64,
          description: 'k: spread over this many nodes',
        }),
        v4Prefix: Type.Integer({ minimum: 8, maximum: 32, default: 24 }),
        v6Prefix: Type.Integer({ minimum: 16, maximum: 128, default: 48 }),
      },
      {
        additionalProperties: false,
        description: 'hot domain: each client subnet bucket hashes onto one of the top k nodes',
      },
    ),
  ),
  /** Read by the edges only (edge/): what they cache and how they treat failing origins. */
  cache: Type.Optional(DomainCache),
  breaker: Type.Optional(OriginBreaker),
  signing: Type.Optional(DomainSigning),
  limits: Type.Optional(DomainLimits),
  shield: Type.Optional(DomainShield),
};

/** Body of POST /api/v1/domains. */
export const DomainCreate = Type.Object(
  {
    domain: Type.String({ pattern: HOSTNAME_PATTERN, description: 'the customer host name' }),
    ...DomainFields,
  },
  { additionalProperties: false },
);
export type DomainCreate = Static<typeof DomainCreate>;

/** Body of PUT /api/v1/domains/{domain}: the whole config except its name. */
export const DomainUpdate = Type.Object(DomainFields, { additionalProperties: false });
export type DomainUpdate = Static<typeof DomainUpdate>;

/** A domain as stored in `cdn:dom:{domain}`. */
export interface Domain {
  domain: string;
  /** Base label under the CNAME base zone; assigned once, never changes. */
  label: string;
  origins: Origin[];
  ttl?: number;
  answers?: number;
  chain?: ChainStep[];
  pools?: string[];
  lastResort?: LastResort;
  ecs?: boolean;
  spread?: { nodes: number; v4Prefix: number; v6Prefix: number };
  cache?: DomainCache;
  breaker?: OriginBreaker;
  signing?: DomainSigning;
  limits?: DomainLimits;
  shield?: DomainShield;
  createdAt: string;
  updatedAt: string;
}

export const NODE_ID_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$';

/**
 * auto: health from the probes. drain: no new answers, still probed, so its health stays
 * known. paused: probes stop and the node keeps its last state.
 */
export const NodeMode = Type.Union(
  [Type.Literal('auto'), Type.Literal('drain'), Type.Literal('paused')],
  { default: 'auto' },
);
export type NodeMode = Static<typeof NodeMode>;

/** The schema without its `default`, so validation (which fills defaults) leaves it absent. */
function noDefault<T extends TSchema>(schema: T): T {
  const { default: _ignored, ...rest } = schema;
  return rest as T;
}

/**
 * Per-node probe overrides: any field left out comes from `health.probe` in the config.
 * The defaults are stripped: filled in, they would shadow the config's values.
 */
export const NodeProbe = Type.Partial(
  Type.Object(
    Object.fromEntries(Object.entries(ProbeFields).map(([k, v]) => [k, noDefault(v)])) as {
      [K in keyof typeof ProbeFields]: (typeof ProbeFields)[K];
    },
    { additionalProperties: false },
  ),
);
export type NodeProbe = Static<typeof NodeProbe>;

export const NodeInput = Type.Object(
  {
    id: Type.String({ pattern: NODE_ID_PATTERN }),
    ipv4: Type.Optional(IPv4),
    ipv6: Type.Optional(IPv6),
    pool: Type.String({ pattern: POOL_PATTERN, default: 'default' }),
    region: Type.Optional(Type.String({ maxLength: 64 })),
    weight: Type.Integer({
      minimum: 0,
      maximum: 10000,
      default: 100,
      description: '0 drains the node',
    }),
    active: Type.Boolean({
      default: true,
      description: "healthy and serving; set by the probes unless the probe type is 'none'",
    }),
    mode: NodeMode,
    probe: Type.Optional(NodeProbe),
  },
  { additionalProperties: false },
);
export type NodeInput = Static<typeof NodeInput>;

/** Body of PUT /api/v1/nodes/{id}. */
export const NodeUpdate = Type.Omit(NodeInput, ['id'], { additionalProperties: false });

/** Body of PATCH /api/v1/nodes/{id}: no defaults, so absent fields stay as they are. */
export const NodePatch = Type.Object(
  {
    ipv4: Type.Optional(IPv4),
    ipv6: Type.Optional(IPv6),
    pool: Type.Optional(Type.String({ pattern: POOL_PATTERN })),
    region: Type.Optional(Type.String({ maxLength: 64 })),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
    active: Type.Optional(Type.Boolean()),
    mode: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('drain'), Type.Literal('paused')]),
    ),
    probe: Type.Optional(NodeProbe),
  },
  { additionalProperties: false },
);

export interface EdgeNode {
  id: string;
  ipv4?: string;
  ipv6?: string;
  pool: string;
  region?: string;
  weight: number;
  /** Healthy and serving: written by the health checker, or by the API for unprobed nodes. */
  active: boolean;
  /** Absent means 'auto'. */
  mode?: NodeMode;
  probe?: NodeProbe;
  /** Written by the health checker only (hash fields it owns); read-only through the API. */
  health?: NodeHealth;
}

/** The health checker's record of a node, kept in `cdn:node:{id}` beside its config. */
export interface NodeHealth {
  state: 'unknown' | 'up' | 'down';
  /** Consecutive successes / failures (the rise/fall counters) of the quorum view. */
  okStreak: number;
  failStreak: number;
  checks: number;
  failures: number;
  lastError: string | null;
  /** ISO time of the last up/down transition, and of the last probe. */
  lastChange: string | null;
  lastCheck: string | null;
}

/** One instance's view of one node (`cdn:health:{node}:{instance}`), expiring with the instance. */
export interface HealthView {
  instance: string;
  state: 'unknown' | 'up' | 'down';
  okStreak: number;
  failStreak: number;
  lastError: string | null;
  lastCheck: string;
  latencyMs: number | null;
  /** What the last probe, passing, warned about (a certificate expiring soon). */
  warning?: string | null;
}

export interface TokenRecord {
  id: string;
  name: string;
  createdAt: string;
}
