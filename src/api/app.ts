// buildApi: the admin API as a Fastify app built from its dependencies (no module-level
// singletons), so tests run it with `app.inject` or on a real port. Everything under
// /api/v1 needs a bearer token; /healthz, /metrics (configurable) and /docs do not.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiDeps } from './deps.js';
import { cookieRoutes } from './routes/cookies.js';
import { errorHandler } from './errors.js';
import { authenticate } from '../auth/tokens.js';
import { UnauthorizedError } from '../lib/errors.js';
import { healthRoutes } from './routes/health.js';
import { domainRoutes } from './routes/domains.js';
import { nodeRoutes } from './routes/nodes.js';
import { tokenRoutes } from './routes/tokens.js';
import { zoneRoutes } from './routes/zone.js';
import { gslbRoutes } from './routes/gslb.js';
import { acmeDnsRoutes } from './routes/acme-dns.js';
import { certificateRoutes } from './routes/certificates.js';
import { TxtService } from '../acme/txt-service.js';

function txtServiceOf(deps: ApiDeps): TxtService {
  return new TxtService({
    config: deps.config,
    repos: deps.repos,
    snapshot: deps.snapshot,
    flush: deps.flush,
    awaitSerial: deps.awaitSerial,
  });
}
import { edgeRoutes } from './routes/edge.js';
import { secondaryRoutes } from './routes/secondaries.js';
import { snapshotRoutes } from './routes/snapshot.js';
import { instanceRoutes } from './routes/instances.js';
import { dnssecRoutes } from './routes/dnssec.js';

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  // pino's Logger and Fastify's base logger type differ only in optional members.
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: 16 * 1024 * 1024,
    ajv: {
      customOptions: {
        allErrors: false,
        coerceTypes: false,
        useDefaults: true,
        removeAdditional: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setErrorHandler(errorHandler);

  if (deps.config.api.docs) {
    await app.register(swagger, {
      openapi: {
        info: { title: 'Cirrus GSLB admin API', version: '1' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  }

  await app.register(healthRoutes(deps));
  if (deps.config.acme.dnsApi.enabled) {
    await app.register(acmeDnsRoutes(deps, deps.txt ?? txtServiceOf(deps)));
  }
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', async (req) => {
        if (!(await authenticate(deps.repos, req.headers.authorization))) {
          throw new UnauthorizedError(
            'a valid "Authorization: Bearer <token>" header is required (cirrus token create)',
          );
        }
      });
      await v1.register(domainRoutes(deps));
      await v1.register(nodeRoutes(deps));
      await v1.register(tokenRoutes(deps));
      await v1.register(zoneRoutes(deps));
      await v1.register(gslbRoutes(deps));
      await v1.register(certificateRoutes(deps));
      await v1.register(edgeRoutes(deps));
      await v1.register(secondaryRoutes(deps));
      await v1.register(cookieRoutes(deps));
      await v1.register(snapshotRoutes(deps));
      await v1.register(instanceRoutes(deps));
      await v1.register(dnssecRoutes(deps));
    },
    { prefix: '/api/v1' },
  );
  return app;
}
