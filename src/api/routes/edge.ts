// /api/v1/purge, /api/v1/prewarm, /api/v1/domains/{domain}/sign-url and
// /api/v1/nodes/{id}/edge: what the API tells the edge fleet through Redis.
// Purges name managed domains only, so a typo is a 400 naming the field rather than a purge
// that silently matches nothing.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import {
  EdgeOverride,
  PrewarmRequest,
  PurgeRequest,
  SignUrlRequest,
  checkEdgeFields,
  validCidr,
} from '../../model/edge.js';
import { EdgeBus } from '../../edge/bus.js';
import { signUrl } from '../../edge/signing.js';
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

    app.post(
      '/prewarm',
      {
        schema: {
          tags: ['edge'],
          body: PrewarmRequest,
          response: {
            202: Type.Object({
              id: Type.String(),
              urls: Type.Integer(),
              receivers: Type.Integer({ description: 'edge subscribers the message reached' }),
            }),
            ...errors,
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const listed = (b.urls ?? []).map((u, i) => ({ url: u, field: `body.urls[${i}]` }));
        if (b.paths?.length && b.base === undefined)
          throw new ValidationError('body.paths needs body.base', 'body.base');
        const base = b.base === undefined ? undefined : b.base.replace(/\/*$/, '/');
        for (const [i, p] of (b.paths ?? []).entries()) {
          let url: string;
          try {
            url = new URL(p.replace(/^\/+/, ''), base).href;
          } catch {
            throw new ValidationError(`body.paths[${i}] is not a path`, `body.paths[${i}]`);
          }
          listed.push({ url, field: `body.paths[${i}]` });
        }
        if (!listed.length)
          throw new ValidationError('body needs urls, or base with paths', 'body.urls');
        if (listed.length > 10_000)
          throw new ValidationError('at most 10000 URLs per prewarm', 'body.urls');
        const urls = await Promise.all(listed.map((l) => split(l.url, l.field)));
        const { message, receivers } = await bus.prewarm({
          ...(b.id ? { id: b.id } : {}),
          urls,
          concurrency: b.concurrency ?? 4,
        });
        return reply.status(202).send({ id: message.id, urls: urls.length, receivers });
      },
    );

    app.post(
      '/domains/:domain/sign-url',
      {
        schema: {
          tags: ['edge'],
          params: Type.Object({ domain: Type.String({ maxLength: 253 }) }),
          body: SignUrlRequest,
          response: {
            200: Type.Object({
              url: Type.String(),
              token: Type.String(),
              cookie: Type.String(),
              keyId: Type.String(),
              expires: Type.String(),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const name = normalizeName(req.params.domain);
        const d = await repos.domains.get(name);
        if (!d) throw new NotFoundError(`domain ${name} does not exist`);
        if (!d.signing)
          throw new ValidationError(`domain ${name} has no signing keys (signing)`, 'signing');
        const host = normalizeName(new URL(req.body.url).hostname);
        if (host !== name)
          throw new ValidationError(`body.url: ${host} is not ${name}`, 'body.url');
        const { ttl, clientPrefix, pathPrefix } = req.body;
        if (clientPrefix !== undefined && !validCidr(clientPrefix))
          throw new ValidationError(
            `body.clientPrefix: ${clientPrefix} is not an address or prefix`,
            'body.clientPrefix',
          );
        return signUrl(d.signing, req.body.url, {
          ...(ttl !== undefined ? { ttl } : {}),
          ...(clientPrefix !== undefined ? { clientPrefix } : {}),
          ...(pathPrefix !== undefined ? { pathPrefix } : {}),
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
        checkEdgeFields(req.body, 'body');
        for (const [name, o] of Object.entries(req.body.domains ?? {}))
          checkEdgeFields(o, `body.domains.${name}`);
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
