// CPU cost of the query handler alone (no sockets): µs per query for the slow path (the
// answer cache off) and for repeated queries (cache on), over the GSLB benchmark's data
// with 30 % of queries carrying ECS, and the first answer per name (hash orders computed).
// `node --import tsx bench/handler-cost.ts [DOMAINS] [NODES]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { snapshotSource } from '../src/repositories.js';
import { repos } from '../test/helpers/repos.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/load.js';
import { EmbeddedStore } from '../src/store/embedded.js';
import { seedStore } from '../src/domains/seed.js';
import { snapshotFromStore } from '../src/snapshot/from-store.js';
import { createHandler } from '../src/pipeline/order.js';
import { dnsMetrics } from '../src/pipeline/metrics.js';
import { gslbMetrics } from '../src/gslb/metrics.js';
import { GeoIp } from '../src/geo/geoip.js';
import { silentLogger } from '../src/lib/logger.js';
import { buildGeoDatabase } from '../src/geo/tools/build.js';
import { writeFileSync } from 'node:fs';
// @ts-expect-error: a plain .mjs helper without types
import { writeGslbSeed, writeCountryCsv } from './gslb-seed.mjs';

const domains = Number(process.argv[2] ?? 10000);
const nodeCount = Number(process.argv[3] ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'cirrus-handler-cost-'));
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
  await seedStore(config, repos(store), join(dir, 'seed'));
  const snapshot = await snapshotFromStore(config, snapshotSource(repos(store)), { generation: 1 });
  const registry = new Registry();
  const geo = new GeoIp({
    config: { databases: [join(dir, 'geo.mmdb')], watchIntervalMs: 60000 },
    logger: silentLogger(),
    registry,
  });
  await geo.start();
  const make = (answerCache: boolean) =>
    createHandler({
      snapshot: () => snapshot,
      settings: {
        version: null,
        identity: null,
        geo,
        debug: null,
        onDecision: gslbMetrics(new Registry()),
      },
      udpSize: 1232,
      nsid: undefined,
      metrics: dnsMetrics(new Registry()),
      logger: silentLogger(),
      answerCache,
    });
  const names = [...snapshot.plans.keys()];
  // OPT (root owner, type 41, payload 4096) with ECS 81.2.69.0/24: option 8, length 7.
  const ecs = Buffer.from([0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 81, 2, 69]);
  const queries = names.map((n, i) => {
    const q = Buffer.concat([
      Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, i % 10 < 3 ? 1 : 0]),
      ...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
      Buffer.from([0, 0, 1, 0, 1]),
      ...(i % 10 < 3 ? [ecs] : []),
    ]);
    q.writeUInt16BE(i & 0xffff, 0);
    return q;
  });
  for (const [label, h] of [
    ['slow path (cache off)', make(false)],
    ['cache on', make(true)],
  ] as const) {
    // First answers: each domain's rendezvous order in its pools is computed here.
    const f0 = process.hrtime.bigint();
    for (let i = 0; i < queries.length; i++) h(queries[i] as Buffer, 'udp', '127.0.0.1', 5353);
    const first = Number(process.hrtime.bigint() - f0) / 1000 / queries.length;
    if (label.startsWith('slow')) console.log(`first answer: ${first.toFixed(2)} µs per query`);
    const rounds = Number(process.env.ROUNDS ?? 5);
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++)
      for (let i = 0; i < queries.length; i++) h(queries[i] as Buffer, 'udp', '127.0.0.1', 5353);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / (rounds * queries.length);
    console.log(`${label}: ${us.toFixed(2)} µs per query (${domains} domains)`);
  }
  await geo.stop();
  await store.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
