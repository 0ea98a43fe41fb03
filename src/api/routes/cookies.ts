// /api/v1/cookies: the DNS cookie secrets shared by every instance on the store. Only
// rotation is exposed; the secrets themselves never leave the store.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { rotateStoredSecrets } from '../../protect/cookie-secrets.js';

export const cookieRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/cookies/rotate',
      {
        schema: {
          tags: ['cookies'],
          description:
            'A new current secret; the current one stays valid as the previous one. Other instances follow within dns.cookies.pollSeconds.',
          response: {
            200: Type.Object({ rotatedAt: Type.String({ format: 'date-time' }) }),
            401: ErrorSchema,
          },
        },
      },
      async () => {
        const rotated = deps.rotateCookies
          ? await deps.rotateCookies()
          : await rotateStoredSecrets(deps.repos.cookies);
        return { rotatedAt: new Date(rotated.rotatedAt).toISOString() };
      },
    );
  };
