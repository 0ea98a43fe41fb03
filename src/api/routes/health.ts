// /healthz: liveness plus what an operator checks first (serial, snapshot age, store).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { describeBreaches } from '../../snapshot/publish-gate.js';

export const healthRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['health'],
          response: {
            200: Type.Object({
              status: Type.String(),
              serial: Type.Integer(),
              zone: Type.String(),
              domains: Type.Integer(),
              nodes: Type.Integer(),
              snapshotAgeSeconds: Type.Number(),
              store: Type.String(),
              lastBuildError: Type.Optional(Type.String()),
              source: Type.String(),
              storeReachable: Type.Boolean(),
              lastKnownGoodProblem: Type.Optional(Type.String()),
              held: Type.Optional(
                Type.Object({
                  serial: Type.Integer(),
                  reasons: Type.Array(Type.String()),
                  message: Type.String(),
                  since: Type.String(),
                }),
              ),
              udpPath: Type.Optional(
                Type.Union([Type.Literal('batched'), Type.Literal('dgram')], {
                  description: 'which code answers UDP in this process (absent with DNS workers)',
                }),
              ),
              dnsWorkers: Type.Optional(
                Type.Array(
                  Type.Object({
                    index: Type.Integer(),
                    udp: Type.Union([Type.Literal('reuseport'), Type.Literal('shared')]),
                    udpPath: Type.Optional(
                      Type.Union([Type.Literal('batched'), Type.Literal('dgram')]),
                    ),
                    pid: Type.Optional(Type.Integer()),
                    ready: Type.Boolean(),
                    generation: Type.Integer(),
                    restarts: Type.Integer(),
                  }),
                ),
              ),
            }),
          },
        },
      },
      async () => {
        const s = deps.snapshot();
        const err = deps.lastBuildError();
        const workers = deps.dnsWorkers?.();
        const udpPath = deps.udpPath?.();
        const workerDown = workers?.some((w) => !w.ready) ?? false;
        const held = deps.gate?.heldChange;
        const from = deps.snapshotSource?.() ?? { source: 'store', storeReachable: true };
        const fallback = from.source !== 'store' || !from.storeReachable;
        return {
          status: err || workerDown || held || fallback ? 'degraded' : 'ok',
          ...from,
          serial: s.serial,
          zone: s.zone.name,
          domains: s.domains.size,
          nodes: s.nodes.length,
          snapshotAgeSeconds: (Date.now() - s.builtAt) / 1000,
          store: deps.repos.store.kind,
          ...(err ? { lastBuildError: err } : {}),
          ...(held
            ? {
                held: {
                  serial: held.serial,
                  reasons: held.breaches.map((b) => b.reason),
                  message: describeBreaches(held.breaches),
                  since: new Date(held.since).toISOString(),
                },
              }
            : {}),
          ...(udpPath ? { udpPath } : {}),
          ...(workers ? { dnsWorkers: workers } : {}),
        };
      },
    );

    app.get('/metrics', { schema: { tags: ['health'], hide: true } }, async (_req, reply) => {
      const text = await (deps.metricsText ?? (() => deps.registry.metrics()))();
      return reply.type(deps.registry.contentType).send(text);
    });
  };
