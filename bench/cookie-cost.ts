// CPU cost of DNS cookies in the query handler (no sockets): µs per query with half the
// queries carrying a client cookie and a valid RFC 9018 server cookie (a resolver that
// has talked to us before: verified, echoed), against the same queries without cookies,
// for the slow path (answer cache off) and for repeats (cache on). Stops by itself.
// `node --import tsx bench/cookie-cost.ts [DOMAINS] [NODES]` (default 2000, 200).
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
import { serverCookie } from '../src/wire/cookie.js';
// @ts-expect-error: a plain .mjs helper without types
import { writeGslbSeed, writeCountryCsv } from './gslb-seed.mjs';

const domains = Number(process.argv[2] ?? 2000);
const nodeCount = Number(process.argv[3] ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'cirrus-cookie-cost-'));
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
  const secrets = { current: Buffer.alloc(16, 7) };
  const make = (answerCache: boolean, cookies: boolean) =>
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
      ...(cookies ? { cookies: { secrets: () => secrets, demand: false } } : {}),
    });
  const names = [...snapshot.plans.keys()];
  const now = Math.floor(Date.now() / 1000);
  const localhost = Buffer.from([127, 0, 0, 1]);
  /** Every name; `withCookies`: every other query carries a cookie (the same bytes without). */
  const queries = (withCookies: boolean) =>
    names.map((n, i) => {
      const client = Buffer.alloc(8);
      client.writeUInt32BE(i, 0);
      const cookie = Buffer.concat([client, serverCookie(client, localhost, secrets.current, now)]);
      const opt =
        withCookies && i % 2 === 0
          ? Buffer.concat([
              Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 28, 0, 10, 0, 24]),
              cookie,
            ])
          : Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
      const q = Buffer.concat([
        Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]),
        ...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
        Buffer.from([0, 0, 1, 0, 1]),
        opt,
      ]);
      q.writeUInt16BE(i & 0xffff, 0);
      return q;
    });
  // The four setups take turns, REPEAT times; the fastest turn of each is reported, so a
  // busy machine's noise (other processes, GC) inflates none of them more than the others.
  const rounds = Number(process.env.ROUNDS ?? 5);
  const setups = [false, true].flatMap((cache) =>
    [false, true].map((cookies) => ({
      label: `${cache ? 'cache on ' : 'cache off'}, ${cookies ? 'cookies on 50 %' : 'no cookies     '}`,
      h: make(cache, cookies),
      qs: queries(cookies),
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
