// /api/v1/secondaries and /api/v1/tsig-keys: the hidden master's peers. Entries from the
// config file are shown and read-only; the API's live in the store (`cdn:xfr:peers`),
// checked together with the config's before they are stored. Secrets are never returned.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { SecondaryConfig, TsigKeyConfig, UpdateScopeConfig } from '../../config/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { normalizeName } from '../../lib/dnsname.js';
import type { PeersDocument } from '../../xfr/peers.js';
import { peersProblem } from '../../config/peers-check.js';

const { name: _secondaryName, ...SecondaryBody } = SecondaryConfig.properties;
const { name: _keyName, ...KeyBody } = TsigKeyConfig.properties;

const KeyView = Type.Object({
  name: Type.String(),
  algorithm: Type.String(),
  source: Type.String({ description: 'config (read-only) or api' }),
  update: Type.Optional(UpdateScopeConfig),
});

const Nullable = <T extends ReturnType<typeof Type.Object>>(t: T) => Type.Union([t, Type.Null()]);

const SecondaryView = Type.Object({
  name: Type.String(),
  address: Type.String(),
  port: Type.Integer(),
  key: Type.Union([Type.String(), Type.Null()]),
  notify: Type.Boolean(),
  source: Type.String(),
  lastNotify: Nullable(
    Type.Object({
      serial: Type.Integer(),
      sentAt: Type.String(),
      ackedAt: Type.Union([Type.String(), Type.Null()]),
      attempts: Type.Integer(),
      error: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  servedSerial: Type.Union([Type.Integer(), Type.Null()]),
  polledAt: Type.Union([Type.String(), Type.Null()]),
  pollError: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
  lagSeconds: Type.Number(),
  lastTransfer: Nullable(
    Type.Object({
      at: Type.String(),
      kind: Type.String(),
      serial: Type.Integer(),
      messages: Type.Integer(),
      records: Type.Integer(),
    }),
  ),
});

const NameParam = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253 }),
});

export const secondaryRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const xfr = deps.config.xfr;
    const load = async (): Promise<PeersDocument> =>
      (await deps.repos.xfr.getPeers()) ?? { keys: [], secondaries: [] };
    /** Checks the document together with the config's entries, then stores it. */
    const save = async (doc: PeersDocument, field: (p: string) => string): Promise<void> => {
      const problem = peersProblem(
        [...xfr.keys, ...doc.keys],
        [...xfr.secondaries, ...doc.secondaries],
        xfr.allow,
        '',
        normalizeName(deps.config.zone.name),
      );
      if (problem)
        throw new ValidationError(
          `${field(problem.field)}: ${problem.message}`,
          field(problem.field),
        );
      await deps.repos.xfr.putPeers(doc);
    };
    const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

    app.get(
      '/secondaries',
      {
        schema: {
          tags: ['secondaries'],
          response: {
            200: Type.Object({
              zone: Type.String(),
              serial: Type.Integer({ description: 'the serial this instance serves' }),
              secondaries: Type.Array(SecondaryView),
            }),
            401: ErrorSchema,
          },
        },
      },
      async () => {
        const s = deps.snapshot();
        return { zone: s.zone.name, serial: s.serial, secondaries: deps.secondaries() };
      },
    );

    app.put(
      '/secondaries/:name',
      {
        schema: {
          tags: ['secondaries'],
          params: Type.Object({ name: SecondaryConfig.properties.name }),
          body: Type.Object(SecondaryBody, { additionalProperties: false }),
          response: { 200: SecondaryConfig, ...errors },
        },
      },
      async (req) => {
        const name = req.params.name;
        if (xfr.secondaries.some((s) => s.name === name))
          throw new ConflictError(`secondary ${name} comes from the config file and is read-only`);
        const doc = await load();
        const entry = { name, ...req.body };
        const secondaries = doc.secondaries.filter((s) => s.name !== name);
        secondaries.push(entry);
        // The body's fields are reported as the body's, whatever index the entry got.
        await save({ ...doc, secondaries }, (f) =>
          f.replace(/^secondaries\[\d+\]/, 'body').replace(/^body\.name$/, 'params.name'),
        );
        return entry;
      },
    );

    app.delete(
      '/secondaries/:name',
      {
        schema: {
          tags: ['secondaries'],
          params: NameParam,
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (req, reply) => {
        const name = req.params.name;
        if (xfr.secondaries.some((s) => s.name === name))
          throw new ConflictError(`secondary ${name} comes from the config file and is read-only`);
        const doc = await load();
        if (!doc.secondaries.some((s) => s.name === name))
          throw new NotFoundError(`secondary ${name} does not exist`);
        await deps.repos.xfr.putPeers({
          ...doc,
          secondaries: doc.secondaries.filter((s) => s.name !== name),
        });
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/tsig-keys',
      {
        schema: { tags: ['secondaries'], response: { 200: Type.Array(KeyView), 401: ErrorSchema } },
      },
      async () => {
        const doc = await load();
        return [
          ...xfr.keys.map((k) => ({
            name: normalizeName(k.name),
            algorithm: k.algorithm,
            source: 'config',
            ...(k.update ? { update: k.update } : {}),
          })),
          ...doc.keys.map((k) => ({
            name: normalizeName(k.name),
            algorithm: k.algorithm,
            source: 'api',
            ...(k.update ? { update: k.update } : {}),
          })),
        ];
      },
    );

    app.put(
      '/tsig-keys/:name',
      {
        schema: {
          tags: ['secondaries'],
          params: Type.Object({ name: TsigKeyConfig.properties.name }),
          body: Type.Object(KeyBody, { additionalProperties: false }),
          response: { 200: KeyView, ...errors },
        },
      },
      async (req) => {
        const name = normalizeName(req.params.name);
        if (xfr.keys.some((k) => normalizeName(k.name) === name))
          throw new ConflictError(`TSIG key ${name} comes from the config file and is read-only`);
        const doc = await load();
        const keys = doc.keys.filter((k) => normalizeName(k.name) !== name);
        keys.push({ name, ...req.body });
        await save({ ...doc, keys }, (f) => f.replace(/^keys\[\d+\]/, 'body'));
        return {
          name,
          algorithm: req.body.algorithm,
          source: 'api',
          ...(req.body.update ? { update: req.body.update } : {}),
        };
      },
    );

    app.delete(
      '/tsig-keys/:name',
      {
        schema: {
          tags: ['secondaries'],
          params: NameParam,
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (req, reply) => {
        const name = normalizeName(req.params.name);
        if (xfr.keys.some((k) => normalizeName(k.name) === name))
          throw new ConflictError(`TSIG key ${name} comes from the config file and is read-only`);
        const doc = await load();
        if (!doc.keys.some((k) => normalizeName(k.name) === name))
          throw new NotFoundError(`TSIG key ${name} does not exist`);
        const user = doc.secondaries.find((s) => s.key !== null && normalizeName(s.key) === name);
        if (user) throw new ConflictError(`TSIG key ${name} is used by secondary ${user.name}`);
        await deps.repos.xfr.putPeers({
          ...doc,
          keys: doc.keys.filter((k) => normalizeName(k.name) !== name),
        });
        return reply.status(204).send(null);
      },
    );
  };
