// /api/v1/nodes: the edge fleet. PUT on the collection replaces the whole list in one
// write (as Cirrus CDN does); /nodes/{id} reads, creates or replaces, patches, deletes one.
// A node's health record is the checker's and read-only here; so is `active` for the nodes
// the probes own (see withOwnedActive).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import {
  NODE_ID_PATTERN,
  NodeInput,
  NodePatch,
  NodeProbe,
  NodeUpdate,
  type EdgeNode,
} from '../../model/domain.js';
import type { Config } from '../../config/schema.js';
import { toEdgeNode, toEdgeNodes, withOwnedActive } from '../../domains/service.js';
import { probesOwnActive } from '../../health/probe-spec.js';
import { NotFoundError } from '../../lib/errors.js';
import { ForceQuery, guardWrite } from './snapshot.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);

const NodeHealthView = Type.Object(
  {
    state: Type.Union([Type.Literal('unknown'), Type.Literal('up'), Type.Literal('down')]),
    okStreak: Type.Integer(),
    failStreak: Type.Integer(),
    checks: Type.Integer(),
    failures: Type.Integer(),
    lastError: NullableString,
    lastChange: NullableString,
    lastCheck: NullableString,
  },
  { description: 'written by the health checker; read-only' },
);

const NodeView = Type.Object({
  id: Type.String(),
  ipv4: Type.Optional(Type.String()),
  ipv6: Type.Optional(Type.String()),
  pool: Type.String(),
  region: Type.Optional(Type.String()),
  weight: Type.Integer(),
  active: Type.Boolean(),
  mode: Type.Union([Type.Literal('auto'), Type.Literal('drain'), Type.Literal('paused')]),
  probe: Type.Optional(NodeProbe),
  activeBy: Type.Union([Type.Literal('probes'), Type.Literal('api')], {
    description: "who sets `active`: the probes (a body's value is ignored) or the API",
  }),
  health: Type.Optional(NodeHealthView),
});
const Params = Type.Object({ id: Type.String({ pattern: NODE_ID_PATTERN }) });
const byId = (a: EdgeNode, b: EdgeNode) => (a.id < b.id ? -1 : 1);

function view(config: Config, n: EdgeNode) {
  return {
    ...n,
    mode: n.mode ?? 'auto',
    activeBy: probesOwnActive(config, n) ? ('probes' as const) : ('api' as const),
  };
}

export const nodeRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { repos, config } = deps;
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };
    const list = async () => (await repos.nodes.list()).sort(byId).map((n) => view(config, n));
    /** The node as stored after a write, health record included. */
    const stored = async (node: EdgeNode) => view(config, (await repos.nodes.get(node.id)) ?? node);

    app.get(
      '/nodes',
      { schema: { tags: ['nodes'], response: { 200: Type.Array(NodeView), 401: ErrorSchema } } },
      list,
    );

    app.put(
      '/nodes',
      {
        schema: {
          tags: ['nodes'],
          querystring: ForceQuery,
          body: Type.Array(NodeInput, { maxItems: 10000 }),
          response: { 200: Type.Array(NodeView), ...errors },
        },
      },
      async (req) => {
        const current = new Map((await repos.nodes.list()).map((n) => [n.id, n]));
        const nodes = toEdgeNodes(req.body).map((n) =>
          withOwnedActive(config, n, current.get(n.id)),
        );
        await guardWrite(deps, req.query.force, (s) => ({ ...s, nodes }));
        await repos.nodes.replace(nodes);
        await deps.flush();
        return list();
      },
    );

    app.get(
      '/nodes/:id',
      { schema: { tags: ['nodes'], params: Params, response: { 200: NodeView, ...errors } } },
      async (req) => {
        const n = await repos.nodes.get(req.params.id);
        if (!n) throw new NotFoundError(`node ${req.params.id} does not exist`);
        return view(config, n);
      },
    );

    app.put(
      '/nodes/:id',
      {
        schema: {
          tags: ['nodes'],
          params: Params,
          body: NodeUpdate,
          response: { 200: NodeView, 201: NodeView, ...errors },
        },
      },
      async (req, reply) => {
        const existed = await repos.nodes.get(req.params.id);
        const node = withOwnedActive(
          config,
          toEdgeNode({ ...req.body, id: req.params.id }),
          existed,
        );
        await repos.nodes.put(node);
        await deps.flush();
        return reply.status(existed ? 200 : 201).send(await stored(node));
      },
    );

    app.patch(
      '/nodes/:id',
      {
        schema: {
          tags: ['nodes'],
          params: Params,
          body: NodePatch,
          response: { 200: NodeView, ...errors },
        },
      },
      async (req) => {
        const cur = await repos.nodes.get(req.params.id);
        if (!cur) throw new NotFoundError(`node ${req.params.id} does not exist`);
        const node = withOwnedActive(
          config,
          toEdgeNode({ ...cur, mode: cur.mode ?? 'auto', ...req.body, id: cur.id }),
          cur,
        );
        await repos.nodes.put(node);
        await deps.flush();
        return stored(node);
      },
    );

    app.delete(
      '/nodes/:id',
      {
        schema: {
          tags: ['nodes'],
          params: Params,
          querystring: ForceQuery,
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (req, reply) => {
        const id = req.params.id;
        await guardWrite(deps, req.query.force, (s) => ({
          ...s,
          nodes: s.nodes.filter((n) => n.id !== id),
        }));
        if (!(await repos.nodes.delete(id)))
          throw new NotFoundError(`node ${req.params.id} does not exist`);
        await deps.flush();
        return reply.status(204).send(null);
      },
    );
  };
