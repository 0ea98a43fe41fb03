// /api/v1/policy: the GSLB policy document (pools, chain, CIDR maps, last resort), read and
// replaced whole; a replacement is compiled against the current state before it is stored.
// /api/v1/health: the health checker's status on this instance, per node, family and vantage;
// /api/v1/health/events: the latest transitions from the `cdn:health:events` stream.
// /api/v1/explain: the whole decision for a name and a client, as `dig TXT _explain.…` shows.
import { HEALTH_EVENTS_KEY } from '../../health/events.js';
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

const State = Type.Union([Type.Literal('unknown'), Type.Literal('up'), Type.Literal('down')]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Vote = Type.Object({
  instance: Type.String({ description: 'the vantage (instance) that probed' }),
  state: State,
  okStreak: Type.Integer(),
  failStreak: Type.Integer(),
  lastError: NullableString,
  lastCheck: Type.String(),
  latencyMs: Type.Union([Type.Number(), Type.Null()]),
  warning: Type.Optional(NullableString),
});
const HealthNode = Type.Object({
  id: Type.String(),
  pool: Type.String(),
  mode: Type.Union([Type.Literal('auto'), Type.Literal('drain'), Type.Literal('paused')]),
  probe: Type.String({ description: 'effective probe type' }),
  probed: Type.Boolean({ description: 'whether this instance probes the node' }),
  intervalSec: Type.Integer(),
  active: Type.Boolean(),
  state: State,
  okStreak: Type.Integer(),
  failStreak: Type.Integer(),
  checks: Type.Integer(),
  failures: Type.Integer(),
  lastError: NullableString,
  lastChange: Type.Union([Type.String(), Type.Null()], {
    description: 'since when the node has its state (the last up/down transition)',
  }),
  lastCheck: NullableString,
  latencyMs: Type.Union([Type.Number(), Type.Null()]),
  families: Type.Object(
    { ipv4: NullableString, ipv6: NullableString },
    { description: 'the addresses answered per family; the state covers both' },
  ),
  address: Type.Union([Type.String(), Type.Null()], {
    description: 'the address probed: IPv4 when the node has one, else IPv6',
  }),
  view: Type.Union([Vote, Type.Null()], { description: "this instance's own view" }),
  votes: Type.Array(Vote, {
    description: "every vantage's unexpired view, read after this instance's last round",
  }),
});
const HealthStatusView = Type.Object({
  enabled: Type.Boolean(),
  running: Type.Boolean(),
  instance: Type.String(),
  leader: Type.Boolean({ description: 'whether this instance writes node state and emits events' }),
  nodes: Type.Array(HealthNode),
});
const HealthEventView = Type.Object({
  streamId: Type.String(),
  id: Type.String(),
  node: Type.String(),
  pool: Type.String(),
  previous: State,
  state: State,
  active: Type.Boolean(),
  reason: Type.String(),
  time: Type.String(),
  instance: Type.String(),
  votes: Type.Object({
    up: Type.Integer(),
    down: Type.Integer(),
    unknown: Type.Integer(),
    needed: Type.Integer(),
  }),
});
const EventsQuery = Type.Object(
  {
    count: Type.String({
      pattern: '^([1-9][0-9]{0,3}|10000)$',
      default: '100',
      description: 'how many of the newest events, 1 to 10000',
    }),
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
            "this instance's health checker: whether it leads, and per node the stored state, its addresses per family and every vantage's view",
          response: { 200: HealthStatusView, 401: ErrorSchema },
        },
      },
      async () => deps.health(),
    );

    app.get(
      '/health/events',
      {
        schema: {
          tags: ['gslb'],
          description: `the newest transitions in ${HEALTH_EVENTS_KEY}, oldest first`,
          querystring: EventsQuery,
          response: { 200: Type.Array(HealthEventView), ...errors },
        },
      },
      async (req) =>
        (await deps.repos.store.xrange(HEALTH_EVENTS_KEY, Number(req.query.count))).map((e) => {
          let votes = { up: 0, down: 0, unknown: 0, needed: 0 };
          try {
            votes = JSON.parse(e.fields.votes ?? '') as typeof votes;
          } catch {
            // A foreign entry: zero votes.
          }
          const state = (v: string | undefined) =>
            v === 'up' || v === 'down' ? v : ('unknown' as const);
          return {
            streamId: e.id,
            id: e.fields.id ?? '',
            node: e.fields.node ?? '',
            pool: e.fields.pool ?? '',
            previous: state(e.fields.previous),
            state: state(e.fields.state),
            active: e.fields.active === '1',
            reason: e.fields.reason ?? '',
            time: e.fields.time ?? '',
            instance: e.fields.instance ?? '',
            votes,
          };
        }),
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
