// What the store holds about domains, edge nodes and API tokens: the TypeBox schemas that
// validate API bodies and seed files, and the shapes the snapshot compiler reads.
import { Type, type Static } from '@sinclair/typebox';
import { HOSTNAME_PATTERN, IPv4, IPv6 } from '../config/schema.js';

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
  createdAt: string;
  updatedAt: string;
}

export const NODE_ID_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$';

export const NodeInput = Type.Object(
  {
    id: Type.String({ pattern: NODE_ID_PATTERN }),
    ipv4: Type.Optional(IPv4),
    ipv6: Type.Optional(IPv6),
    pool: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', default: 'default' }),
    region: Type.Optional(Type.String({ maxLength: 64 })),
    weight: Type.Integer({
      minimum: 0,
      maximum: 10000,
      default: 100,
      description: '0 drains the node',
    }),
    active: Type.Boolean({ default: true, description: 'healthy and serving' }),
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
    pool: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' })),
    region: Type.Optional(Type.String({ maxLength: 64 })),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
    active: Type.Optional(Type.Boolean()),
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
  active: boolean;
}

export interface TokenRecord {
  id: string;
  name: string;
  createdAt: string;
}
