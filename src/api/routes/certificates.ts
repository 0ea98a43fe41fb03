// /api/v1/domains/{domain}/certificate: ask for a certificate (and learn the CNAME the
// customer must create), and read its state: status, expiry, last error.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.js';
import { ErrorSchema } from '../errors.js';
import { CirrusError } from '../../lib/errors.js';
import { normalizeName } from '../../lib/dnsname.js';

const Params = Type.Object({ domain: Type.String({ maxLength: 253 }) });

const CertificateView = Type.Object({
  domain: Type.String(),
  status: Type.Union(
    ['awaiting_cname', 'pending', 'valid', 'failed'].map((s) => Type.Literal(s)),
    {
      description:
        'awaiting_cname: create the CNAME below; pending: ordering; valid: issued; failed: see lastError (a stored certificate is kept)',
    },
  ),
  names: Type.Array(Type.String()),
  cname: Type.Object(
    { name: Type.String(), target: Type.String() },
    { description: 'the customer creates `name CNAME target`' },
  ),
  issuedAt: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastAttemptAt: Type.Union([Type.String(), Type.Null()]),
  orders: Type.Integer(),
});

const RequestBody = Type.Object(
  {
    wildcard: Type.Optional(Type.Boolean({ description: 'also *.<domain> (same challenge name)' })),
    force: Type.Optional(Type.Boolean({ description: 'order even if the certificate is not due' })),
  },
  { additionalProperties: false },
);

export const certificateRoutes =
  (deps: ApiDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const service = () => {
      if (!deps.certificates)
        throw new CirrusError('NOT_FOUND', 'certificate issuance is off (acme.issuer.enabled)', {
          status: 404,
        });
      return deps.certificates;
    };

    app.post(
      '/domains/:domain/certificate',
      {
        schema: {
          tags: ['certificates'],
          params: Params,
          body: Type.Optional(RequestBody),
          response: {
            202: Type.Intersect([
              CertificateView,
              Type.Object({
                acmeDns: Type.Optional(
                  Type.Object(
                    {
                      username: Type.String(),
                      password: Type.String(),
                      subdomain: Type.String(),
                      fulldomain: Type.String(),
                    },
                    { description: 'the acme-dns account of this name, shown once' },
                  ),
                ),
              }),
            ]),
            400: ErrorSchema,
            404: ErrorSchema,
          },
        },
      },
      async (req, reply) => {
        const domain = normalizeName(req.params.domain);
        const body = req.body ?? {};
        const res = await service().request(domain, { wildcard: body.wildcard, force: body.force });
        return reply
          .status(202)
          .send({ ...res.view, ...(res.acmeDns ? { acmeDns: res.acmeDns } : {}) });
      },
    );

    app.get(
      '/domains/:domain/certificate',
      {
        schema: {
          tags: ['certificates'],
          params: Params,
          response: { 200: CertificateView, 404: ErrorSchema },
        },
      },
      async (req) => service().view(normalizeName(req.params.domain)),
    );
  };
