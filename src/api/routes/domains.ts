// /api/v1/domains: the customer domains Cirrus answers for. Each response carries the
// CNAME target the customer must point at, and the edges answering right now.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ForceQuery, guardWrite } from './snapshot.js';
import { ErrorSchema } from '../errors.js';
import { DomainCreate, DomainUpdate, Origin, type Domain } from '../../model/domain.js';
import {
  DomainCache,
  DomainLimits,
  DomainShield,
  DomainSigningView,
  OriginBreaker,
  signingView,
} from '../../model/edge.js';
import { createDomain, updateDomain } from '../../domains/service.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { normalizeName } from '../../lib/dnsname.js';
import { decide } from '../../gslb/decide.js';
import type { Snapshot } from '../../snapshot/snapshot.js';
import { bytesToIPv4, bytesToIPv6 } from '../../lib/ip.js';

const DomainView = Type.Object({
  domain: Type.String(),
  label: Type.String(),
  cname: Type.String({ description: 'point the customer host name here (CNAME)' }),
  origins: Type.Array(Origin),
  ttl: Type.Integer(),
  answers: Type.Integer(),
  chain: Type.Array(Type.String(), { description: 'the pool chain in effect' }),
  pools: Type.Optional(Type.Array(Type.String())),
  lastResort: Type.String(),
  ecs: Type.Boolean(),
  spread: Type.Optional(
    Type.Object({ nodes: Type.Integer(), v4Prefix: Type.Integer(), v6Prefix: Type.Integer() }),
  ),
  cache: Type.Optional(DomainCache),
  breaker: Type.Optional(OriginBreaker),
  signing: Type.Optional(DomainSigningView),
  limits: Type.Optional(DomainLimits),
  shield: Type.Optional(DomainShield),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  serving: Type.Object(
    {
      ipv4: Type.Array(Type.String()),
      ipv6: Type.Array(Type.String()),
      source: Type.String({
        description: 'edges, origin (no edge up), or pending (not yet in the live snapshot)',
      }),
    },
    { description: 'what a client with no location is answered now' },
  ),
});
type DomainView = Static<typeof DomainView>;

const Params = Type.Object({ domain: Type.String({ maxLength: 253 }) });

export function domainView(d: Domain, config: ApiDeps['config'], snapshot: Snapshot): DomainView {
  const plan = snapshot.domains.get(d.domain);
  let serving: DomainView['serving'] = { ipv4: [], ipv6: [], source: 'pending' };
  if (plan) {
    const v4 = decide(snapshot.gslb, plan, 4, undefined);
    const v6 = decide(snapshot.gslb, plan, 6, undefined);
    serving = {
      ipv4: v4.rdata.map((b) => bytesToIPv4(b)),
      ipv6: v6.rdata.map((b) => bytesToIPv6(b)),
      source:
        v4.source === 'edges' || v6.source === 'edges'
          ? 'edges'
          : v4.source === 'origin' || v6.source === 'origin'
            ? 'origin'
            : 'none',
    };
  }
  return {
    domain: d.domain,
    label: d.label,
    cname: `${d.label}.${config.zone.name}`,
    origins: d.origins,
    ttl: d.ttl ?? config.gslb.ttl,
    answers: d.answers ?? config.gslb.answers,
    chain: [...(d.chain ?? snapshot.gslb.chain)],
    ...(d.pools ? { pools: d.pools } : {}),
    lastResort: d.lastResort ?? snapshot.gslb.lastResort,
    ecs: d.ecs ?? true,
    ...(d.spread ? { spread: d.spread } : {}),
    ...(d.cache ? { cache: d.cache } : {}),
    ...(d.breaker ? { breaker: d.breaker } : {}),
    ...(d.signing ? { signing: signingView(d.signing) } : {}),
    ...(d.limits ? { limits: d.limits } : {}),
    ...(d.shield ? { shield: d.shield } : {}),
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    serving,
  };
}

/** A domain may only be limited to pools that exist: declared in the policy or named by a node. */
function checkPools(pools: readonly string[] | undefined, snapshot: Snapshot): void {
  pools?.forEach((p, i) => {
    if (!snapshot.gslb.pools.has(p))
      throw new ValidationError(
        `pools[${i}]: pool "${p}" is neither declared in the policy nor used by any node`,
        `body.pools[${i}]`,
      );
  });
}

export const domainRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { config, repos } = deps;
    const view = (d: Domain) => domainView(d, config, deps.snapshot());
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

    app.get(
      '/domains',
      {
        schema: { tags: ['domains'], response: { 200: Type.Array(DomainView), 401: ErrorSchema } },
      },
      async () =>
        (await repos.domains.list()).sort((a, b) => a.domain.localeCompare(b.domain)).map(view),
    );

    app.post(
      '/domains',
      {
        schema: { tags: ['domains'], body: DomainCreate, response: { 201: DomainView, ...errors } },
      },
      async (req, reply) => {
        checkPools(req.body.pools, deps.snapshot());
        const d = await createDomain(config, repos, req.body);
        await deps.flush();
        return reply.status(201).send(view(d));
      },
    );

    app.get(
      '/domains/:domain',
      { schema: { tags: ['domains'], params: Params, response: { 200: DomainView, ...errors } } },
      async (req) => {
        const d = await repos.domains.get(normalizeName(req.params.domain));
        if (!d) throw new NotFoundError(`domain ${req.params.domain} does not exist`);
        return view(d);
      },
    );

    app.put(
      '/domains/:domain',
      {
        schema: {
          tags: ['domains'],
          params: Params,
          body: DomainUpdate,
          response: { 200: DomainView, ...errors },
        },
      },
      async (req) => {
        checkPools(req.body.pools, deps.snapshot());
        const d = await updateDomain(repos, req.params.domain, req.body, true);
        await deps.flush();
        return view(d);
      },
    );

    app.patch(
      '/domains/:domain',
      {
        schema: {
          tags: ['domains'],
          params: Params,
          body: Type.Partial(DomainUpdate, { additionalProperties: false }),
          response: { 200: DomainView, ...errors },
        },
      },
      async (req) => {
        checkPools(req.body.pools, deps.snapshot());
        const d = await updateDomain(repos, req.params.domain, req.body, false);
        await deps.flush();
        return view(d);
      },
    );

    app.delete(
      '/domains/:domain',
      {
        schema: {
          tags: ['domains'],
          params: Params,
          querystring: ForceQuery,
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (req, reply) => {
        const name = normalizeName(req.params.domain);
        await guardWrite(deps, req.query.force, (s) => ({
          ...s,
          domains: s.domains.filter((d) => d.domain !== name),
        }));
        if (!(await repos.domains.delete(name))) {
          throw new NotFoundError(`domain ${req.params.domain} does not exist`);
        }
        await deps.flush();
        return reply.status(204).send(null);
      },
    );
  };
