// /api/v1/purge and /api/v1/nodes/{id}/edge: what the API tells the edge fleet through Redis.
// Purges name managed domains only, so a typo is a 400 naming the field rather than a purge
// that silently matches nothing.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { EdgeOverride, PurgeRequest } from '../../model/edge.js';
import { EdgeBus } from '../../edge/bus.js';
import { NODE_ID_PATTERN } from '../../model/domain.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { normalizeName } from '../../lib/dnsname.js';
import { redisConnection } from '../../store/redis-connection.js';

const Params = Type.Object({ id: Type.String({ pattern: NODE_ID_PATTERN }) });

export const edgeRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { repos, config } = deps;
    const bus = new EdgeBus(redisConnection(config.store));
    app.addHook('onClose', () => bus.stop());
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

    const managed = async (name: string, field: string): Promise<string> => {
      const domain = normalizeName(name);
      if (!(await repos.domains.get(domain)))
        throw new ValidationError(`${field}: ${domain} is not a managed domain`, field);
      return domain;
    };
    const split = async (url: string, field: string) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new ValidationError(`${field} is not a URL`, field);
      }
      return { domain: await managed(u.hostname, field), path: u.pathname + u.search };
    };

    app.post(
      '/purge',
      {
        schema: {
          tags: ['edge'],
          body: PurgeRequest,
          response: {
            202: Type.Object({
              id: Type.String(),
              urls: Type.Integer(),
              prefixes: Type.Integer(),
              domains: Type.Integer(),
              receivers: Type.Integer({ description: 'edge subscribers the message reached' }),
            }),
            ...errors,
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        if (!b.urls?.length && !b.prefixes?.length && !b.domains?.length)
          throw new ValidationError('body needs at least one of urls, prefixes, domains', 'body');
        const urls = await Promise.all((b.urls ?? []).map((u, i) => split(u, `body.urls[${i}]`)));
        const prefixes = await Promise.all(
          (b.prefixes ?? []).map((u, i) => split(u, `body.prefixes[${i}]`)),
        );
        const domains = await Promise.all(
          (b.domains ?? []).map((d, i) => managed(d, `body.domains[${i}]`)),
        );
        const { message, receivers } = await bus.purge({ urls, prefixes, domains });
        return reply.status(202).send({
          id: message.id,
          urls: urls.length,
          prefixes: prefixes.length,
          domains: domains.length,
          receivers,
        });
      },
    );

    const nodeMustExist = async (id: string) => {
      if (!(await repos.nodes.get(id))) throw new NotFoundError(`node ${id} does not exist`);
    };

    app.get(
      '/nodes/:id/edge',
      { schema: { tags: ['edge'], params: Params, response: { 200: EdgeOverride, ...errors } } },
      async (req) => {
        await nodeMustExist(req.params.id);
        return (await bus.getOverride(req.params.id)) ?? {};
      },
    );

    app.put(
      '/nodes/:id/edge',
      {
        schema: {
          tags: ['edge'],
          params: Params,
          body: EdgeOverride,
          response: { 200: EdgeOverride, ...errors },
        },
      },
      async (req) => {
        await nodeMustExist(req.params.id);
        await bus.putOverride(req.params.id, req.body);
        return req.body;
      },
    );

    app.delete(
      '/nodes/:id/edge',
      { schema: { tags: ['edge'], params: Params, response: { 204: Type.Null(), ...errors } } },
      async (req, reply) => {
        await nodeMustExist(req.params.id);
        await bus.deleteOverride(req.params.id);
        return reply.status(204).send(null);
      },
    );
  };
