// The ExternalDNS webhook API on its own listener (externalDns.listen): the routes, media
// type and status codes of external-dns's webhook provider contract, as published in
// api/webhook.yaml and spoken by provider/webhook/webhook.go at external-dns
// v0.22.0-12-g2bf1bf8af (commit 2bf1bf8af2b70f23579f9147c1f7e9394f7f83d5). ExternalDNS sends
// no Authorization header, so this listener asks none: it belongs on loopback (a sidecar)
// or a private address. What an endpoint means is decided in src/externaldns.
//
//   GET  /                → 200 domain filter           (Accept negotiated, see below)
//   GET  /records         → 200 [Endpoint]
//   POST /adjustendpoints → 200 [Endpoint]              (what Cirrus cannot hold is left out)
//   POST /records         → 204 on success; 400 naming the field; 409; 503 (retried by ExternalDNS)
//   GET  /healthz         → 200 {status, serial}
//
// Every JSON answer carries exactly `application/external.dns.webhook+json;version=1`, which
// ExternalDNS compares byte for byte at negotiation. An Accept that excludes it gets 406; a
// body in another media type (or version) gets 415; one above maxBodyBytes 413.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Logger } from '../lib/logger.js';
import { errorHandler } from './errors.js';
import { MEDIA_TYPE } from '../externaldns/endpoint.js';
import type { ExternalDnsProvider } from '../externaldns/provider.js';

export interface ExternalDnsApiDeps {
  provider: ExternalDnsProvider;
  logger: Logger;
  maxBodyBytes: number;
  /** The live snapshot's serial, for /healthz. */
  serial: () => number;
}

const MEDIA_ESSENCE = 'application/external.dns.webhook+json';

const ProviderSpecificProperty = Type.Object({
  name: Type.Optional(Type.String()),
  value: Type.Optional(Type.String()),
});

/** components/schemas/endpoint; unknown fields are ignored, as Go's decoder does. */
const Endpoint = Type.Object({
  dnsName: Type.Optional(Type.String({ maxLength: 1024 })),
  targets: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 65535 })), Type.Null()])),
  recordType: Type.Optional(Type.String({ maxLength: 16 })),
  setIdentifier: Type.Optional(Type.String()),
  recordTTL: Type.Optional(Type.Integer()),
  labels: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
  providerSpecific: Type.Optional(Type.Union([Type.Array(ProviderSpecificProperty), Type.Null()])),
});

const Endpoints = Type.Union([Type.Array(Endpoint), Type.Null()]);

/** components/schemas/changes; Go's nil slices arrive as absent or null. */
const Changes = Type.Object({
  create: Type.Optional(Endpoints),
  updateOld: Type.Optional(Endpoints),
  updateNew: Type.Optional(Endpoints),
  delete: Type.Optional(Endpoints),
});

/** The `version` parameter of a media type (undefined when absent). */
function versionOf(params: string): string | undefined {
  for (const p of params.split(';')) {
    const [k, v] = p.split('=').map((s) => s.trim());
    if (k?.toLowerCase() === 'version') return v?.replace(/^"|"$/g, '');
  }
  return undefined;
}

/**
 * Whether an Accept header (RFC 9110 §12.5.1) admits our media type: a range of `*\/*`,
 * `application/*` or the type itself, with no other version and a q above 0.
 */
export function acceptsWebhookJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...rest] = range.split(';');
    const params = rest.join(';');
    const q = /(?:^|;)\s*q\s*=\s*([0-9.]+)/i.exec(params)?.[1];
    if (q !== undefined && Number(q) === 0) return false;
    const t = type.trim().toLowerCase();
    if (t === '*/*' || t === 'application/*') return true;
    if (t !== MEDIA_ESSENCE) return false;
    const v = versionOf(params);
    return v === undefined || v === '1';
  });
}

function httpError(status: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode: status, code });
}

export async function buildExternalDnsApi(deps: ExternalDnsApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'externaldns' }) as FastifyBaseLogger,
    bodyLimit: deps.maxBodyBytes,
    ajv: {
      customOptions: {
        allErrors: false,
        coerceTypes: false,
        useDefaults: false,
        removeAdditional: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setErrorHandler(errorHandler);

  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(MEDIA_ESSENCE, { parseAs: 'string' }, (req, body, done) => {
    const header = req.headers['content-type'] ?? '';
    const version = versionOf(header.slice(header.indexOf(';') + 1));
    if (header.includes(';') && version !== undefined && version !== '1') {
      done(httpError(415, 'UNSUPPORTED_MEDIA_TYPE', `version ${version} is not served; use 1`));
      return;
    }
    json(req, body as string, done);
  });
  // Plain JSON is what the same bodies are when sent by hand (curl).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, json);

  app.addHook('onRequest', async (req) => {
    if (req.url.split('?')[0] === '/healthz') return;
    if (!acceptsWebhookJson(req.headers.accept)) {
      throw httpError(
        406,
        'NOT_ACCEPTABLE',
        `Accept "${req.headers.accept ?? ''}" excludes ${MEDIA_TYPE}, the only media type served`,
      );
    }
  });

  // A Buffer keeps the content-type exactly as set: a string or object would have Fastify
  // re-serialise it (`version="1"`) and append a charset, which ExternalDNS refuses.
  const send = (body: unknown) => Buffer.from(JSON.stringify(body), 'utf8');

  app.get('/', async (_req, reply) =>
    reply.header('content-type', MEDIA_TYPE).send(send(deps.provider.domainFilter())),
  );

  app.get('/records', async (_req, reply) =>
    reply.header('content-type', MEDIA_TYPE).send(send(await deps.provider.records())),
  );

  app.post('/adjustendpoints', { schema: { body: Endpoints } }, async (req, reply) =>
    reply.header('content-type', MEDIA_TYPE).send(send(await deps.provider.adjust(req.body ?? []))),
  );

  app.post('/records', { schema: { body: Changes } }, async (req, reply) => {
    await deps.provider.apply(req.body);
    return reply.status(204).send();
  });

  app.get('/healthz', async () => ({ status: 'ok', serial: deps.serial() }));

  return app;
}
