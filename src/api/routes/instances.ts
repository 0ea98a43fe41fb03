// /api/v1/instances: every Cirrus instance sharing the store, with the serial and content
// hash it serves, how old that report is, and whether it agrees with the majority.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';

const Instance = Type.Object({
  id: Type.String(),
  serial: Type.Integer(),
  contentHash: Type.String(),
  source: Type.String(),
  ageSeconds: Type.Number(),
  agrees: Type.Boolean(),
  disagreeingSeconds: Type.Number(),
  self: Type.Boolean(),
});

export const instanceRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/instances',
      {
        schema: {
          tags: ['instances'],
          response: { 200: Type.Array(Instance), 401: ErrorSchema },
        },
      },
      async () => (deps.instances ? deps.instances() : []),
    );
  };
