// CPU cost of health-aware TTLs in the query handler (no sockets): µs per query with a
// table of node bounds (every node bounded 30 s to 90 s ahead, so every answer's TTL is cut
// and every cache hit counts its TTL down), against the same queries without one, for the
// slow path (answer cache off) and for repeats (cache on). Stops by itself.
// `node --import tsx bench/health-ttl-cost.ts [DOMAINS] [NODES]` (default 2000, 200).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/load.js';
import { EmbeddedStore } from '../src/store/embedded.js';
import { seedStore } from '../src/domains/seed.js';
import { repositories, snapshotSource } from '../src/repositories.js';
import { snapshotFromStore } from '../src/snapshot/from-store.js';
import { createHandler } from '../src/pipeline/order.js';
import { dnsMetrics } from '../src/pipeline/metrics.js';
import { gslbMetrics } from '../src/gslb/metrics.js';
import { GeoIp } from '../src/geo/geoip.js';
import { silentLogger } from '../src/lib/logger.js';
import { buildGeoDatabase } from '../src/geo/tools/build.js';
import { writeFileSync } from 'node:fs';
import { HealthBounds } from '../src/gslb/health-bound.js';
// @ts-expect-error: a plain .mjs helper without types
import { writeGslbSeed, writeCountryCsv } from './gslb-seed.mjs';

const domains = Number(process.argv[2] ?? 2000);
const nodeCount = Number(process.argv[3] ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'cirrus-health-ttl-cost-'));
try {
  (writeGslbSeed as (d: string, n: number, m: number) => void)(
    join(dir, 'seed'),
    domains,
    nodeCount,
  );
  (writeCountryCsv as (f: string) => void)(join(dir, 'c.csv'));
  const geoBuild = await buildGeoDatabase({ country: [join(dir, 'c.csv')], asn: [] });
  writeFileSync(join(dir, 'geo.mmdb'), geoBuild.build.buffer);
  const config = loadConfig({ env: { STATE_FILE: '' } });
  const store = new EmbeddedStore({});
  await store.start();
  const repos = repositories(store);
  await seedStore(config, repos, join(dir, 'seed'));
  const snapshot = await snapshotFromStore(config, snapshotSource(repos), { generation: 1 });
  const registry = new Registry();
  const geo = new GeoIp({
    config: { databases: [join(dir, 'geo.mmdb')], watchIntervalMs: 60000 },
    logger: silentLogger(),
    registry,
  });
  await geo.start();
  const t0ms = Date.now();
  const bounds = new HealthBounds(
    { floorSec: 5, unknownSec: 10 },
    new Map(
      snapshot.nodes.map((n, i) => [n.id, { at: t0ms + 30_000 + (i % 60) * 1000, unknown: false }]),
    ),
  );
  const make = (answerCache: boolean, health: boolean) =>
    createHandler({
      snapshot: () => snapshot,
      settings: {
        version: null,
        identity: null,
        geo,
        debug: null,
        onDecision: gslbMetrics(new Registry()),
        ...(health ? { health: () => bounds } : {}),
      },
      udpSize: 1232,
      nsid: undefined,
      metrics: dnsMetrics(new Registry()),
      logger: silentLogger(),
      answerCache,
    });
  const names = [...snapshot.plans.keys()];
  const queries = () =>
    names.map((n, i) => {
      const q = Buffer.concat([
        Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]),
        ...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
        Buffer.from([0, 0, 1, 0, 1]),
        Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]),
      ]);
      q.writeUInt16BE(i & 0xffff, 0);
      return q;
    });
  // The four setups take turns, REPEAT times (within the 30 s before the first bound); the fastest turn of each is reported, so a
  // busy machine's noise (other processes, GC) inflates none of them more than the others.
  const rounds = Number(process.env.ROUNDS ?? 5);
  const setups = [false, true].flatMap((cache) =>
    [false, true].map((health) => ({
      label: `${cache ? 'cache on ' : 'cache off'}, ${health ? 'health bounds' : 'no bounds    '}`,
      h: make(cache, health),
      qs: queries(),
      best: Infinity,
    })),
  );
  for (const s of setups) for (const q of s.qs) s.h(q, 'udp', '127.0.0.1', 5353);
  for (let turn = 0; turn < Number(process.env.REPEAT ?? 7); turn++)
    for (const s of setups) {
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < rounds; r++) for (const q of s.qs) s.h(q, 'udp', '127.0.0.1', 5353);
      const us = Number(process.hrtime.bigint() - t0) / 1000 / (rounds * s.qs.length);
      if (us < s.best) s.best = us;
    }
  for (const s of setups) console.log(`${s.label}: ${s.best.toFixed(2)} µs per query`);
  await geo.stop();
  await store.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
