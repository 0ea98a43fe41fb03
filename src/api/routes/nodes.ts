// /api/v1/nodes: the edge fleet. PUT on the collection replaces the whole list in one
// write (as Cirrus CDN does); /nodes/{id} reads, creates or replaces, patches, deletes one.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import {
  NODE_ID_PATTERN,
  NodeInput,
  NodePatch,
  NodeUpdate,
  type EdgeNode,
} from '../../store/model.js';
import { toEdgeNode, toEdgeNodes } from '../../domains/service.js';
import { NotFoundError } from '../../lib/errors.js';

const NodeView = Type.Object({
  id: Type.String(),
  ipv4: Type.Optional(Type.String()),
  ipv6: Type.Optional(Type.String()),
  pool: Type.String(),
  region: Type.Optional(Type.String()),
  weight: Type.Integer(),
  active: Type.Boolean(),
});
const Params = Type.Object({ id: Type.String({ pattern: NODE_ID_PATTERN }) });
const byId = (a: EdgeNode, b: EdgeNode) => (a.id < b.id ? -1 : 1);

export const nodeRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store } = deps;
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema };

    app.get(
      '/nodes',
      { schema: { tags: ['nodes'], response: { 200: Type.Array(NodeView), 401: ErrorSchema } } },
      async () => (await store.listNodes()).sort(byId),
    );

    app.put(
      '/nodes',
      {
        schema: {
          tags: ['nodes'],
          body: Type.Array(NodeInput, { maxItems: 10000 }),
          response: { 200: Type.Array(NodeView), ...errors },
        },
      },
      async (req) => {
        const nodes = toEdgeNodes(req.body);
        await store.replaceNodes(nodes);
        await deps.flush();
        return nodes.sort(byId);
      },
    );

    app.get(
      '/nodes/:id',
      { schema: { tags: ['nodes'], params: Params, response: { 200: NodeView, ...errors } } },
      async (req) => {
        const n = await store.getNode(req.params.id);
        if (!n) throw new NotFoundError(`node ${req.params.id} does not exist`);
        return n;
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
        const existed = await store.getNode(req.params.id);
        const node = toEdgeNode({ ...req.body, id: req.params.id });
        await store.putNode(node);
        await deps.flush();
        return reply.status(existed ? 200 : 201).send(node);
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
        const cur = await store.getNode(req.params.id);
        if (!cur) throw new NotFoundError(`node ${req.params.id} does not exist`);
        const node = toEdgeNode({ ...cur, mode: cur.mode ?? 'auto', ...req.body, id: cur.id });
        await store.putNode(node);
        await deps.flush();
        return node;
      },
    );

    app.delete(
      '/nodes/:id',
      { schema: { tags: ['nodes'], params: Params, response: { 204: Type.Null(), ...errors } } },
      async (req, reply) => {
        if (!(await store.deleteNode(req.params.id)))
          throw new NotFoundError(`node ${req.params.id} does not exist`);
        await deps.flush();
        return reply.status(204).send(null);
      },
    );
  };
