// /api/v1/dnssec: the zone's keys (never their private halves), the DS its parent should
// serve, and the CSK rollover (dnssec/rollover.ts) with the timings derived from the zone
// as the live snapshot serves it. Writes go to the store; every instance follows with a
// rebuild, and this one's snapshot is live with the change before the response.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { ConflictError, ValidationError } from '../../lib/errors.js';
import { algorithmNumber } from '../../dnssec/algorithm.js';
import {
  DnssecRollover,
  keyViews,
  parentDs,
  rolloverStatus,
  rolloverTimings,
  rolloverView,
} from '../../dnssec/rollover.js';
import { rolloverParameters } from '../../snapshot/rollover-parameters.js';

const Time = Type.String({ format: 'date-time' });
const KeySchema = Type.Object({
  id: Type.String(),
  tag: Type.Integer(),
  algorithm: Type.Integer(),
  algorithmName: Type.String(),
  state: Type.Union(
    ['created', 'published', 'active', 'retired', 'removed'].map((s) => Type.Literal(s)),
  ),
  parentDs: Type.Boolean({
    description: 'the key CDS/CDNSKEY name: the DS the parent should hold',
  }),
  created: Time,
  publish: Time,
  activate: Time,
  retire: Type.Union([Time, Type.Null()]),
  remove: Type.Union([Time, Type.Null()]),
  dnskey: Type.String({ description: 'zone-file DNSKEY record' }),
  ds: Type.String({ description: 'zone-file DS record (SHA-256)' }),
});
const RolloverSchema = Type.Object({
  phase: Type.Union(
    ['idle', 'pre-publication', 'double-signature', 'ds-propagation', 'old-retired'].map((s) =>
      Type.Literal(s),
    ),
  ),
  inProgress: Type.Boolean(),
  newKey: Type.Union([Type.String(), Type.Null()]),
  oldKeys: Type.Array(Type.String()),
  awaitingDsConfirmation: Type.Boolean(),
  next: Type.Union([
    Type.Object({ event: Type.String(), key: Type.String(), at: Time }),
    Type.Null(),
  ]),
  timings: Type.Object({
    publishToActivateSeconds: Type.Number(),
    confirmToRetireSeconds: Type.Number(),
    retireToRemoveSeconds: Type.Number(),
  }),
});
const Parameters = Type.Object({
  dnskeyTtl: Type.Integer(),
  maxZoneTtl: Type.Integer(),
  propagationDelay: Type.Integer(),
  parentDsTtl: Type.Integer(),
  parentPropagationDelay: Type.Integer(),
  timescale: Type.Number(),
});
const Status = Type.Object({
  zone: Type.String(),
  enabled: Type.Boolean(),
  keys: Type.Array(KeySchema),
  rollover: RolloverSchema,
  parameters: Parameters,
});
const DsSchema = Type.Object({
  zone: Type.String(),
  ds: Type.Array(
    Type.Object({
      keyId: Type.String(),
      tag: Type.Integer(),
      algorithm: Type.Integer(),
      digestType: Type.Integer(),
      digest: Type.String(),
      text: Type.String(),
    }),
  ),
  text: Type.String({ description: 'the DS records as zone-file lines' }),
});

export const dnssecRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const zone = deps.config.zone.name;
    const rollover = new DnssecRollover(deps.repos.dnssec, zone);
    const parameters = () => rolloverParameters(deps.config, deps.snapshot());
    const status = async () => {
      const keys = await deps.repos.dnssec.list(zone);
      const now = Date.now();
      const p = parameters();
      return {
        zone,
        enabled: deps.config.dnssec.enabled,
        keys: keyViews(zone, keys, now, deps.config.dnssec.keyTtl),
        rollover: rolloverView(rolloverStatus(keys, now), rolloverTimings(p)),
        parameters: p,
      };
    };
    const needEnabled = () => {
      if (!deps.config.dnssec.enabled)
        throw new ConflictError('DNSSEC is off (dnssec.enabled, DNSSEC=on)');
    };

    app.get(
      '/dnssec',
      {
        schema: {
          tags: ['dnssec'],
          description:
            'The zone keys with their state and times, the rollover phase, and the timings it follows.',
          response: { 200: Status, 401: ErrorSchema, 503: ErrorSchema },
        },
      },
      status,
    );

    app.get(
      '/dnssec/ds',
      {
        schema: {
          tags: ['dnssec'],
          description:
            'The DS record (SHA-256) the parent zone should hold now: the key the CDS names.',
          response: { 200: DsSchema, 401: ErrorSchema, 503: ErrorSchema },
        },
      },
      async () => {
        const ds = parentDs(zone, await deps.repos.dnssec.list(zone), Date.now());
        return { zone, ds, text: ds.map((d) => `${d.text}\n`).join('') };
      },
    );

    app.post(
      '/dnssec/rollover',
      {
        schema: {
          tags: ['dnssec'],
          description:
            'Begins a CSK rollover: a new key is published now and signs beside the old one after DNSKEY TTL + propagation delay. 409 while a rollover is in progress.',
          body: Type.Optional(
            Type.Object(
              {
                algorithm: Type.Optional(
                  Type.Union([Type.Literal('ecdsap256sha256'), Type.Literal('ed25519')], {
                    description:
                      'must be the current key algorithm; an algorithm rollover is refused (400)',
                  }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
          response: {
            200: Status,
            400: ErrorSchema,
            401: ErrorSchema,
            409: ErrorSchema,
            503: ErrorSchema,
          },
        },
      },
      async (req) => {
        needEnabled();
        const alg = req.body?.algorithm;
        try {
          await rollover.begin(rolloverTimings(parameters()), {
            algorithm: alg === undefined ? undefined : algorithmNumber(alg),
          });
        } catch (err) {
          // The rollover names its own parameter; the request names it inside the body.
          if (err instanceof ValidationError)
            throw new ValidationError(err.message, 'body.algorithm');
          throw err;
        }
        await deps.flush();
        return status();
      },
    );

    app.post(
      '/dnssec/rollover/complete',
      {
        schema: {
          tags: ['dnssec'],
          description:
            "Confirms that the parent's DS names the new key: the old key stops signing after the parent's DS TTL + propagation delay and its DNSKEY is withdrawn after the zone's longest TTL + propagation delay. 409 unless both keys sign and this was not confirmed yet.",
          response: { 200: Status, 401: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
        },
      },
      async () => {
        needEnabled();
        await rollover.complete(rolloverTimings(parameters()));
        await deps.flush();
        return status();
      },
    );
  };
