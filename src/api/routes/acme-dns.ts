// The acme-dns API (joohoi/acme-dns), same paths, headers, JSON and error codes, so the
// acme-dns plugins of lego, certbot, acme.sh and Caddy work unchanged. Beyond acme-dns:
// every value stays (each expiring) instead of the newest two, and DELETE /update withdraws.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { authenticate } from '../../auth/tokens.js';
import { authenticateAccount, checkAllowfrom, registerAccount } from '../../acme/dns-accounts.js';
import { txtProblem, type TxtService } from '../../acme/txt-service.js';

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

export const acmeDnsRoutes =
  (deps: ApiDeps, txt: TxtService): FastifyPluginAsyncTypebox =>
  async (app) => {
    // acme-dns reads every body as JSON whatever its Content-Type (curl -d sends a form
    // type) and accepts an empty /register body; Fastify's parsers would refuse both.
    const asJson = (_req: unknown, body: string | Buffer, done: (e: null, v: unknown) => void) => {
      const text = String(body).trim();
      if (text === '') return done(null, {});
      try {
        done(null, JSON.parse(text));
      } catch {
        done(null, { malformed: true });
      }
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
    const readBody = (body: unknown) => (isObject(body) && !body.malformed ? body : undefined);
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
      const body = readBody(req.body);
      if (!body) return void fail(reply, 400, 'malformed_json_payload', 'the body is not JSON');
      if (body.subdomain !== account.subdomain) return void forbidden(reply);
      return { account, body };
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
        const body = readBody(req.body ?? {});
        if (!body) return fail(reply, 400, 'malformed_json_payload', 'the body is not JSON');
        const raw = body.allowfrom ?? [];
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
        const { account, body } = auth;
        const problem = txtProblem(body.txt);
        if (problem) return fail(reply, 400, 'bad_txt', `txt ${problem}`);
        const value = body.txt as string;
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
        const { account, body } = auth;
        if (body.txt !== undefined && txtProblem(body.txt))
          return fail(reply, 400, 'bad_txt', `txt ${txtProblem(body.txt) as string}`);
        const done = await txt.withdraw(account.subdomain, body.txt as string | undefined);
        return { removed: done.removed };
      },
    );

    app.get(
      '/health',
      { schema: { tags: ['acme-dns'], security: [], summary: 'acme-dns: 200 while serving' } },
      async (_req, reply) => reply.status(200).send(),
    );
  };
