// Starts a real Cirrus server on free loopback ports for integration tests, with the
// embedded store in memory (or a given store), and stops it afterwards.
import { finishConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/lib/logger.js';
import { Cirrus } from '../../src/server.js';
import type { Store } from '../../src/store/store.js';
import { createToken } from '../../src/auth/tokens.js';
import { loadUdpBatch, type UdpPath } from '../../src/dns/udp-batch.js';

/** dns.udpBatch for the tests: CIRRUS_UDP_BATCH, else off (node:dgram). */
export function testUdpBatch(): 'auto' | 'on' | 'off' {
  const v = (process.env.CIRRUS_UDP_BATCH ?? 'off').toLowerCase();
  if (v !== 'auto' && v !== 'on' && v !== 'off') throw new Error(`CIRRUS_UDP_BATCH=${v}`);
  return v;
}

/** The UDP path a server started by these tests takes (where it binds its own sockets). */
export function testUdpPath(): UdpPath {
  const setting = testUdpBatch();
  if (setting === 'off') return 'dgram';
  return setting === 'on' || 'addon' in loadUdpBatch() ? 'batched' : 'dgram';
}

export interface RunningCirrus {
  cirrus: Cirrus;
  config: Config;
  /** DNS port (UDP and TCP) on 127.0.0.1. */
  dnsPort: number;
  apiUrl: string;
  token: string;
  stop(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

export async function startCirrus(
  overrides: DeepPartial<Config> & Record<string, unknown> = {},
  store?: Store,
  /** The clock snapshot builds read (see CirrusOptions.now). */
  now?: () => number,
): Promise<RunningCirrus> {
  const raw = {
    seed: { dir: null },
    store: { file: null },
    log: { level: 'silent' },
    // Test nodes sit on documentation addresses nobody serves: their `active` is the API's.
    health: { probe: { type: 'none' } },
    // GeoIP off unless a test gives databases: answers do not move with the bundled data.
    geo: { databases: [] },
    ...overrides,
    // No last-known-good file unless a test asks: one test's file must not feed the next.
    snapshot: { debounceMs: 5, maxDelayMs: 50, lkgFile: null, ...(overrides.snapshot as object) },
    // Response rate limiting off: tests send many queries from 127.0.0.1 and are not about
    // it; the RRL tests (dns-rrl.test.ts) turn it on with `dns: { rrl: { rate } }`. Load
    // shedding off too: on a busy test machine a GC pause or a snapshot build could shed a
    // query a test waits for; dns-shed.test.ts turns it on with `dns: { shed: {...} }`.
    // UDP on node:dgram unless CIRRUS_UDP_BATCH names the path: test/run.sh runs the
    // UDP-facing files again with CIRRUS_UDP_BATCH=on (the batched addon).
    dns: {
      listen: ['127.0.0.1:0'],
      udpBatch: testUdpBatch(),
      rrl: { rate: 0 },
      shed: { maxLagMs: 0, maxBacklogMs: 0 },
      ...(overrides.dns as object),
    },
    api: { listen: '127.0.0.1:0', ...(overrides.api as object) },
  };
  const config = finishConfig(raw, 'test config');
  const cirrus = new Cirrus({
    config,
    logger: silentLogger(),
    ...(store ? { store } : {}),
    ...(now ? { now } : {}),
  });
  await cirrus.start();
  const { token } = await createToken(cirrus.repos, 'test');
  const api = cirrus.apiAddress as { host: string; port: number };
  return {
    cirrus,
    config,
    dnsPort: (cirrus.dnsAddresses[0] as { port: number }).port,
    apiUrl: `http://${api.host}:${api.port}`,
    token,
    stop: () => cirrus.stop(),
  };
}

/** fetch() against the admin API with the test token. */
export async function api(
  run: RunningCirrus,
  method: string,
  path: string,
  body?: unknown,
  // `any`: tests read arbitrary response shapes and assert on them field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; json: any }> {
  const res = await fetch(run.apiUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${run.token}`,
      ...(body === undefined
        ? {}
        : { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // plain text (zone export) stays a string
  }
  return { status: res.status, json };
}
