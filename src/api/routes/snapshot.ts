// /api/v1/snapshot: what the publish gate holds and its release, plus `guardWrite`, the
// check a destructive write makes before it touches the store (409 unless force=true).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import type { StoreState } from '../../snapshot/source.js';
import { BlastRadiusError, requestRelease } from '../../snapshot/publish-gate.js';
import type { HeldChange } from '../../snapshot/manager.js';

/** `?force=true`: the write is meant even if it crosses a bound of the publish gate. */
export const ForceQuery = Type.Object(
  {
    force: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('false')], {
        description: 'apply a write that would be held by the publish gate (bulk deletes)',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Refuses (409 BLAST_RADIUS) a write whose effect alone would cross a bound; with force,
 * writes the release marker first so every instance publishes the result.
 */
export async function guardWrite(
  deps: ApiDeps,
  force: 'true' | 'false' | undefined,
  change: (state: StoreState) => StoreState,
): Promise<void> {
  const found = deps.gate?.checkWrite(change) ?? [];
  if (found.length === 0) return;
  if (force !== 'true') throw new BlastRadiusError(found);
  await requestRelease(deps.repos.releases);
}

const Held = Type.Object({
  held: Type.Boolean(),
  reasons: Type.Array(Type.Object({ reason: Type.String(), detail: Type.String() })),
  serial: Type.Optional(Type.Integer()),
  liveSerial: Type.Integer(),
  contentHash: Type.Optional(Type.String()),
  domains: Type.Optional(Type.Integer()),
  nodes: Type.Optional(Type.Integer()),
  since: Type.Optional(Type.String()),
});

function heldView(held: HeldChange | undefined, liveSerial: number) {
  if (!held) return { held: false, reasons: [], liveSerial };
  return {
    held: true,
    reasons: held.breaches,
    serial: held.serial,
    liveSerial,
    contentHash: held.contentHash,
    domains: held.domains,
    nodes: held.nodes,
    since: new Date(held.since).toISOString(),
  };
}

export const snapshotRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/snapshot/held',
      { schema: { tags: ['snapshot'], response: { 200: Held, 401: ErrorSchema } } },
      async () => heldView(deps.gate?.heldChange, deps.snapshot().serial),
    );

    app.post(
      '/snapshot/release',
      { schema: { tags: ['snapshot'], response: { 200: Held, 401: ErrorSchema } } },
      async () => {
        const was = deps.gate?.heldChange;
        if (deps.gate) await deps.gate.release();
        else await requestRelease(deps.repos.releases);
        await deps.flush();
        // What was released; `held` says whether something (a newer change) is held now.
        const now = deps.gate?.heldChange;
        return {
          ...heldView(was, deps.snapshot().serial),
          held: now !== undefined,
        };
      },
    );
  };
