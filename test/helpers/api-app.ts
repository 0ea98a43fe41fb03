// The admin API as the server composes it, for `app.inject` tests: a Cirrus is constructed
// (store, snapshot manager, GeoIP, health checker, TXT service, certificates, hidden master)
// and only the parts the API reads are started (store, GeoIP, snapshots, hidden master):
// no DNS listener, no API port, no probes.
import type { FastifyInstance, HTTPMethods, LightMyRequestResponse } from 'fastify';
import { finishConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/lib/logger.js';
import { Cirrus } from '../../src/server.js';
import { buildApi } from '../../src/api/app.js';
import { createToken } from '../../src/auth/tokens.js';

export interface ApiApp {
  app: FastifyInstance;
  cirrus: Cirrus;
  config: Config;
  /** A valid admin token, created in the store. */
  token: string;
  /** app.inject with the admin token (unless `headers.authorization` is given). */
  call(
    method: HTTPMethods,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function buildApiApp(overrides: Record<string, unknown> = {}): Promise<ApiApp> {
  const config = finishConfig(
    {
      seed: { dir: null },
      store: { file: null },
      log: { level: 'silent' },
      health: { probe: { type: 'none' } },
      // GeoIP off unless a test gives databases: answers do not move with the bundled data.
      geo: { databases: [] },
      ...overrides,
      // No last-known-good file unless a test asks: one test's file must not feed the next.
      snapshot: {
        debounceMs: 0,
        maxDelayMs: 10,
        lkgFile: null,
        ...(overrides.snapshot as object | undefined),
      },
    },
    'test config',
  );
  const cirrus = new Cirrus({ config, logger: silentLogger() });
  let app: FastifyInstance | undefined;
  try {
    await cirrus.geo.start();
    await cirrus.repos.store.start();
    await cirrus.snapshots.start();
    // The master keeps the secondaries' status, reloading API-managed peers on store events.
    await cirrus.master.start();
    // The same dependencies Cirrus.start passes to buildApi (src/server.ts), without workers.
    app = await buildApi({
      config,
      repos: cirrus.repos,
      snapshot: () => cirrus.snapshots.current,
      flush: () => cirrus.flush(),
      lastBuildError: () => cirrus.snapshots.lastBuildError,
      registry: cirrus.registry,
      logger: silentLogger(),
      geo: cirrus.geo,
      health: () => cirrus.health.status(),
      txt: cirrus.txt,
      certificates: cirrus.certificates,
      secondaries: () => cirrus.master.status(),
      awaitSerial: (serial, timeoutMs) => cirrus.master.awaitSerial(serial, timeoutMs),
      gate: cirrus.snapshots,
      instances: () => cirrus.instances.beat(),
    });
    await app.ready();
  } catch (err) {
    await app?.close();
    await cirrus.stop();
    throw err;
  }
  const ready = app;
  const { token } = await createToken(cirrus.repos, 'test');
  return {
    app: ready,
    cirrus,
    config,
    token,
    call: (method, url, body, headers = {}) => {
      const h: Record<string, string> = { authorization: `Bearer ${token}` };
      if (typeof body === 'string') h['content-type'] = 'text/plain';
      return ready.inject({
        method,
        url,
        headers: { ...h, ...headers },
        ...(body === undefined ? {} : { payload: body as string | object }),
      });
    },
    close: async () => {
      await ready.close();
      await cirrus.stop();
    },
  };
}
