// The acme-dns API (joohoi/acme-dns), same paths, headers, JSON and error codes, so the
// acme-dns plugins of lego, certbot, acme.sh and Caddy work unchanged. Body keys match
// without regard to letter case, as acme-dns's Go decoder matches them (acme-dns-body.ts);
// a /register key that is not `allowfrom` is refused, naming it, since a restriction
// misspelt must not pass as no restriction. Beyond acme-dns: every value stays (each
// expiring) instead of the newest two, and DELETE /update withdraws.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { authenticate } from '../../auth/tokens.js';
import { authenticateAccount, checkAllowfrom, registerAccount } from '../../acme/dns-accounts.js';
import { txtProblem, type TxtService } from '../../acme/txt-service.js';
import { readFields } from '../../acme/acme-dns-body.js';

const Error_ = Type.Object({ error: Type.String(), message: Type.Optional(Type.String()) });

const RegisterBody = Type.Object({
  allowfrom: Type.Optional(Type.Array(Type.String(), { maxItems: 64 })),
});
const UpdateBody = Type.Object({
  subdomain: Type.String({ description: 'the subdomain /register returned' }),
  txt: Type.String({ description: 'the TXT value, e.g. the 43-character DNS-01 digest' }),
});
const DeleteBody = Type.Object({
  subdomain: Type.String(),
  txt: Type.Optional(Type.String({ description: 'absent: every value of the subdomain' })),
});
const Propagation = Type.Object({
  serial: Type.Integer(),
  complete: Type.Boolean(),
  secondaries: Type.Array(
    Type.Object({
      name: Type.String(),
      serial: Type.Union([Type.Integer(), Type.Null()]),
      current: Type.Boolean(),
    }),
  ),
});

/** acme-dns answers errors as `{"error": "<code>"}`; the message is ours, for people. */
function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.status(status).send({ error, message });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Marks a body that is not JSON (a symbol: no client key can spell it). */
const MALFORMED = Symbol('malformed');
const parsedBodies = new WeakMap<FastifyRequest, unknown>();
/** The body as the content parser read it, before any route validation touched it. */
const rawBody = (req: FastifyRequest): unknown => parsedBodies.get(req);

export const acmeDnsRoutes =
  (deps: ApiDeps, txt: TxtService): FastifyPluginAsyncTypebox =>
  async (app) => {
    // acme-dns reads every body as JSON whatever its Content-Type (curl -d sends a form
    // type) and accepts an empty /register body; Fastify's parsers would refuse both.
    // The handlers read the body as parsed here, kept apart from req.body, which route
    // validation may coerce (a string into a list): Go's decoder coerces nothing.
    const asJson = (
      req: FastifyRequest,
      body: string | Buffer,
      done: (e: null, v: unknown) => void,
    ) => {
      const text = String(body).trim();
      let parsed: unknown = {};
      try {
        if (text !== '') parsed = JSON.parse(text);
      } catch {
        parsed = { [MALFORMED]: true };
      }
      parsedBodies.set(req, parsed);
      done(null, text === '' ? {} : JSON.parse(JSON.stringify(parsed)));
    };
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, asJson);
    const forbidden = (reply: FastifyReply) =>
      fail(
        reply,
        401,
        'forbidden',
        'X-Api-User / X-Api-Key, source address or subdomain do not match',
      );
    /**
     * The body's fields under their lowercase names, or a refusal: not a JSON object, a field
     * given twice in two spellings, or (where `strict`) a key that is no field.
     */
    const readBody = (
      body: unknown,
      names: readonly string[],
      strict: boolean,
    ): Map<string, unknown> | { status: 400; error: string; message: string } => {
      if (!isObject(body) || MALFORMED in body)
        return { status: 400, error: 'malformed_json_payload', message: 'the body is not JSON' };
      const read = readFields(body, names);
      if (read.repeated.length > 0)
        return {
          status: 400,
          error: 'malformed_json_payload',
          message: `field given twice: ${read.repeated.join(', ')}`,
        };
      if (strict && read.unknown.length > 0)
        return {
          status: 400,
          error: 'malformed_json_payload',
          message: `unknown field ${read.unknown.map((k) => JSON.stringify(k)).join(', ')}: only ${names.join(', ')} (any letter case)`,
        };
      return read.fields;
    };
    /**
     * The account behind X-Api-User / X-Api-Key (allowfrom checked) and the JSON body for
     * its own subdomain, or undefined once the refusal has been sent.
     */
    const authorized = async (req: FastifyRequest, reply: FastifyReply) => {
      const account = await authenticateAccount(
        deps.repos,
        req.headers['x-api-user'] as string | undefined,
        req.headers['x-api-key'] as string | undefined,
        req.ip,
      );
      if (!account) return void forbidden(reply);
      const body = readBody(rawBody(req), ['subdomain', 'txt'], false);
      if (!(body instanceof Map)) return void fail(reply, body.status, body.error, body.message);
      if (body.get('subdomain') !== account.subdomain) return void forbidden(reply);
      return { account, txt: body.get('txt') };
    };

    app.post(
      '/register',
      {
        // Checked in the handler, so errors carry acme-dns's codes.
        attachValidation: true,
        schema: {
          tags: ['acme-dns'],
          security: [],
          summary: 'acme-dns: a new account and subdomain',
          body: RegisterBody,
          response: {
            201: Type.Object({
              username: Type.String(),
              password: Type.String(),
              fulldomain: Type.String(),
              subdomain: Type.String(),
              allowfrom: Type.Array(Type.String()),
            }),
            400: Error_,
            401: Error_,
          },
        },
      },
      async (req, reply) => {
        if (deps.config.acme.dnsApi.register === 'token') {
          if (!(await authenticate(deps.repos, req.headers.authorization)))
            return fail(reply, 401, 'forbidden', 'registration needs an admin API bearer token');
        }
        const body = readBody(rawBody(req) ?? {}, ['allowfrom'], true);
        if (!(body instanceof Map)) return fail(reply, body.status, body.error, body.message);
        const raw = body.get('allowfrom') ?? [];
        if (!Array.isArray(raw) || raw.some((c) => typeof c !== 'string') || raw.length > 64)
          return fail(reply, 400, 'invalid_allowfrom_cidr', 'allowfrom: a list of CIDRs');
        let allowfrom: string[];
        try {
          allowfrom = checkAllowfrom(raw as string[]);
        } catch (err) {
          return fail(reply, 400, 'invalid_allowfrom_cidr', `allowfrom: ${(err as Error).message}`);
        }
        const { account, password } = await registerAccount(deps.repos, allowfrom);
        return reply.status(201).send({
          username: account.username,
          password,
          fulldomain: txt.fqdn(account.subdomain),
          subdomain: account.subdomain,
          allowfrom: account.allowfrom,
        });
      },
    );

    app.post(
      '/update',
      {
        attachValidation: true,
        schema: {
          tags: ['acme-dns'],
          security: [],
          summary: 'acme-dns: add a TXT value (each expires after acme.txtLifetimeSec)',
          body: UpdateBody,
          response: {
            200: Type.Object({ txt: Type.String(), propagation: Type.Optional(Propagation) }),
            400: Error_,
            401: Error_,
          },
        },
      },
      async (req, reply) => {
        const auth = await authorized(req, reply);
        if (!auth) return reply;
        const { account, txt: given } = auth;
        const problem = txtProblem(given);
        if (problem) return fail(reply, 400, 'bad_txt', `txt ${problem}`);
        const value = given as string;
        const done = await txt.publish(account.subdomain, value, deps.config.acme.propagation.wait);
        return {
          txt: value,
          ...(done.propagation
            ? { propagation: { serial: done.serial, ...done.propagation } }
            : {}),
        };
      },
    );

    app.delete(
      '/update',
      {
        attachValidation: true,
        schema: {
          tags: ['acme-dns'],
          security: [],
          summary: 'Cirrus extension: withdraw one TXT value, or all of the subdomain',
          body: DeleteBody,
          response: {
            200: Type.Object({ removed: Type.Integer() }),
            400: Error_,
            401: Error_,
          },
        },
      },
      async (req, reply) => {
        const auth = await authorized(req, reply);
        if (!auth) return reply;
        const { account, txt: given } = auth;
        if (given !== undefined && txtProblem(given))
          return fail(reply, 400, 'bad_txt', `txt ${txtProblem(given) as string}`);
        const done = await txt.withdraw(account.subdomain, given as string | undefined);
        return { removed: done.removed };
      },
    );

    app.get(
      '/health',
      { schema: { tags: ['acme-dns'], security: [], summary: 'acme-dns: 200 while serving' } },
      async (_req, reply) => reply.status(200).send(),
    );
  };
