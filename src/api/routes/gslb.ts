// /api/v1/policy: the GSLB policy document (pools, chain, CIDR maps, last resort), read and
// replaced whole; a replacement is compiled against the current state before it is stored.
// /api/v1/health: the health checker's status on this instance.
// /api/v1/explain: the whole decision for a name and a client, as `dig TXT _explain.…` shows.
import { snapshotSource } from '../../repositories.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { GslbPolicy } from '../../gslb/policy-model.js';
import { DEFAULT_POLICY } from '../../gslb/pools.js';
import { explain } from '../../gslb/explain.js';
import type { HealthBounds, HealthClock } from '../../gslb/health-bound.js';
import { buildSnapshot } from '../../snapshot/build.js';
import { NotFoundError, ValidationError, errorMessage } from '../../lib/errors.js';
import { normalizeName } from '../../lib/dnsname.js';
import { ipFamily } from '../../lib/ip.js';
import { parseCidr } from '../../lib/cidr.js';
import type { ClientSubnet } from '../../wire/decode.js';
import type { Family } from '../../gslb/plan.js';

const healthClock = (bounds: HealthBounds | undefined): HealthClock | undefined =>
  bounds && { bounds, now: Date.now() };

const ExplainQuery = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'a base name (<label>.<zone>) or a customer domain',
    }),
    type: Type.Union([Type.Literal('A'), Type.Literal('AAAA'), Type.Literal('ANY')], {
      default: 'ANY',
    }),
    client: Type.Optional(
      Type.String({ description: "the resolver's address; default: the caller's address" }),
    ),
    ecs: Type.Optional(Type.String({ description: 'ECS subnet, e.g. 198.51.100.0/24' })),
  },
  { additionalProperties: false },
);

function parseEcs(text: string): ClientSubnet {
  let cidr;
  try {
    cidr = parseCidr(text.includes('/') ? text : `${text}/${ipFamily(text) === 6 ? 56 : 24}`);
  } catch (err) {
    throw new ValidationError(`querystring.ecs: ${errorMessage(err)}`, 'querystring.ecs');
  }
  return {
    family: cidr.family === 4 ? 1 : 2,
    sourcePrefix: cidr.prefix,
    scopePrefix: 0,
    address: cidr.bytes,
  };
}

export const gslbRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema };

    app.get(
      '/policy',
      { schema: { tags: ['gslb'], response: { 200: GslbPolicy, 401: ErrorSchema } } },
      async () => (await deps.repos.policy.get()) ?? DEFAULT_POLICY,
    );

    app.put(
      '/policy',
      { schema: { tags: ['gslb'], body: GslbPolicy, response: { 200: GslbPolicy, ...errors } } },
      async (req) => {
        const state = {
          ...(await snapshotSource(deps.repos).loadState(deps.config.zone.name)),
          policy: req.body,
        };
        let warnings: readonly string[];
        try {
          warnings = buildSnapshot({
            config: deps.config,
            state,
            generation: 0,
            serial: 0,
            contentHash: '',
          }).warnings;
        } catch (err) {
          throw new ValidationError(
            `body: ${errorMessage(err).replace(/^GSLB policy: /, '')}`,
            'body',
          );
        }
        for (const w of warnings) req.log.warn({ warning: w }, 'policy stored with a warning');
        await deps.repos.policy.put(req.body);
        await deps.flush();
        return req.body;
      },
    );

    app.get(
      '/health',
      {
        schema: {
          tags: ['gslb'],
          description:
            "this instance's health checker: whether it leads, and per node the stored state and its own view",
          response: { 200: Type.Unknown(), 401: ErrorSchema },
        },
      },
      async () => deps.health(),
    );

    app.get(
      '/explain',
      {
        schema: {
          tags: ['gslb'],
          querystring: ExplainQuery,
          response: { 200: Type.Unknown({ description: 'the decision, step by step' }), ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const snapshot = deps.snapshot();
        const name = normalizeName(q.name);
        const plan = snapshot.plans.get(name) ?? snapshot.domains.get(name);
        if (!plan) throw new NotFoundError(`${name} is neither a base name nor a managed domain`);
        const client = q.client ?? req.ip;
        if (!ipFamily(client))
          throw new ValidationError(
            `querystring.client: "${client}" is not an IP address`,
            'querystring.client',
          );
        const families: Family[] = q.type === 'A' ? [4] : q.type === 'AAAA' ? [6] : [4, 6];
        return explain(
          snapshot,
          deps.geo,
          plan,
          families,
          client,
          q.ecs === undefined ? undefined : parseEcs(q.ecs),
          healthClock(deps.healthBounds?.()),
        );
      },
    );
  };
