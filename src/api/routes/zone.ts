// /api/v1/zone: the zone as text (what `cirrus zone export` prints) and the static
// records, read and replaced as RFC 1035 text. A replacement is compiled against the
// current state before it is stored, so a bad one is refused and never reaches the store.
import { snapshotSource } from '../../repositories.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { exportZoneCooperatively } from '../../snapshot/export.js';
import { buildSnapshot } from '../../snapshot/build.js';
import { ValidationError, errorMessage } from '../../lib/errors.js';

export const zoneRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const zoneName = deps.config.zone.name;
    app.addContentTypeParser('text/dns', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );

    app.get('/zone', { schema: { tags: ['zone'], produces: ['text/dns'] } }, async (_req, reply) =>
      reply.type('text/dns; charset=utf-8').send(await exportZoneCooperatively(deps.snapshot())),
    );

    app.get(
      '/zone/records',
      { schema: { tags: ['zone'], produces: ['text/dns'] } },
      async (_req, reply) =>
        reply.type('text/dns; charset=utf-8').send((await deps.repos.zoneText.get(zoneName)) ?? ''),
    );

    app.put(
      '/zone/records',
      {
        schema: {
          tags: ['zone'],
          consumes: ['text/plain', 'text/dns'],
          body: Type.String({ maxLength: 16 * 1024 * 1024 }),
          response: {
            200: Type.Object({ records: Type.Integer(), serial: Type.Integer() }),
            400: ErrorSchema,
            401: ErrorSchema,
          },
        },
      },
      async (req) => {
        const state = {
          ...(await snapshotSource(deps.repos).loadState(zoneName)),
          zoneText: req.body,
        };
        let records: number;
        try {
          const trial = buildSnapshot({
            config: deps.config,
            state,
            generation: 0,
            serial: 0,
            // A trial build only validates: no serial is claimed, so no digest is needed.
            contentHash: '',
          });
          records = trial.zone.size;
        } catch (err) {
          throw new ValidationError(`body: ${errorMessage(err)}`, 'body');
        }
        await deps.repos.zoneText.put(zoneName, req.body);
        await deps.flush();
        return { records, serial: deps.snapshot().serial };
      },
    );
  };
