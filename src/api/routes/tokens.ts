// /api/v1/tokens: API bearer tokens. The secret is returned once, at creation.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { createToken } from '../../auth/tokens.js';
import { NotFoundError } from '../../lib/errors.js';

const TokenView = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String() });

export const tokenRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/tokens',
      { schema: { tags: ['tokens'], response: { 200: Type.Array(TokenView), 401: ErrorSchema } } },
      async () =>
        (await deps.repos.tokens.list()).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    );

    app.post(
      '/tokens',
      {
        schema: {
          tags: ['tokens'],
          body: Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 64 }) },
            { additionalProperties: false },
          ),
          response: {
            201: Type.Object({
              ...TokenView.properties,
              token: Type.String({ description: 'shown only once' }),
            }),
            400: ErrorSchema,
            401: ErrorSchema,
          },
        },
      },
      async (req, reply) => {
        const { token, record } = await createToken(deps.repos, req.body.name);
        return reply.status(201).send({ ...record, token });
      },
    );

    app.delete(
      '/tokens/:id',
      {
        schema: {
          tags: ['tokens'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 204: Type.Null(), 401: ErrorSchema, 404: ErrorSchema },
        },
      },
      async (req, reply) => {
        if (!(await deps.repos.tokens.delete(req.params.id)))
          throw new NotFoundError(`token ${req.params.id} does not exist`);
        return reply.status(204).send(null);
      },
    );
  };
