// Memory and cost of the DNSSEC signature cache (issue 19, "Measured"): the GSLB bench's
// large store (bench/large-state.ts) built into a signed snapshot, then every base name's
// A and AAAA answer decided (gslb/decide.ts) for one client location per pool, as clients
// in each pool's first country would get it, and signed by the snapshot's ZoneSigner as the
// pipeline signs it (owner, served TTL, the plan's TTL as original TTL). Reports the
// distinct RRsets (= cache entries), signatures computed per second on one core, the cost of
// a cached signature, SignatureCache.bytes, and heap and RSS growth after a forced gc.
// The cache is sized to hold every entry here; in service `dnssec.signatureCacheEntries`
// (50,000 by default) bounds it, and the figures give the bytes per entry to scale by.
// `node --expose-gc --import tsx bench/dnssec-memory.ts [DOMAINS] [NODES] [--ed25519] [--json]`
import { finishConfig } from '../src/config/load.js';
import { Algorithm } from '../src/dnssec/algorithm.js';
import { newStoredKey } from '../src/dnssec/keys.js';
import { decide } from '../src/gslb/decide.js';
import { locate, type Location } from '../src/gslb/location.js';
import { buildSnapshot } from '../src/snapshot/build.js';
import type { ZoneSigner } from '../src/dnssec/signer.js';
import { largeState } from './large-state.js';
// @ts-expect-error: a plain .mjs helper without types
import { POOLS } from './gslb-seed.mjs';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const domainCount = Number(args[0] ?? 10_000);
const nodeCount = Number(args[1] ?? 200);
const ed25519 = process.argv.includes('--ed25519');
const asJson = process.argv.includes('--json');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

type PoolRow = [string, string[], string, number, number];

const config = finishConfig({
  seed: { dir: null },
  store: { file: null },
  dnssec: {
    enabled: true,
    algorithm: ed25519 ? 'ed25519' : 'ecdsap256sha256',
    signatureCacheEntries: 10_000_000,
  },
});

const now = Date.now();
const state = largeState(domainCount, nodeCount);
state.dnssecKeys = [newStoredKey(ed25519 ? Algorithm.ED25519 : Algorithm.ECDSAP256SHA256, now)];
const snap = buildSnapshot({ config, state, generation: 1, serial: 1, contentHash: 'bench', now });
const signer = snap.signer as ZoneSigner;
if (!signer) throw new Error('the snapshot has no signer');

// One location per pool: a resolver in the pool's first country (GeoIP answers by address).
const places = new Map<string, PoolRow>();
(POOLS as PoolRow[]).forEach((p, i) => places.set(`10.${i}.0.1`, p));
const geo = {
  lookup(ip: string) {
    const p = places.get(ip);
    return p
      ? {
          country: p[1][0] as string,
          continent: p[2],
          lat: p[3],
          lon: p[4],
          geoPrefix: 16,
          asnPrefix: 0,
        }
      : { geoPrefix: 0, asnPrefix: 0 };
  },
};
const locations: Location[] = [...places.keys()].map((ip) =>
  locate({ clientAddress: ip, ecs: undefined, useEcs: false }, snap.gslb.nets, geo),
);

interface Mem {
  heap: number;
  external: number;
  rss: number;
}
function settle(): Mem {
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
}
const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;

/**
 * Decides every (base name, location, family) answer and, with `sign`, signs it; returns the
 * seconds taken and the answers seen.
 */
function signAll(sign = true): { seconds: number; answers: number } {
  const nowSec = Math.floor(Date.now() / 1000);
  let answers = 0;
  const t = process.hrtime.bigint();
  for (const [owner, plan] of snap.plans) {
    for (const loc of locations)
      for (const family of [4, 6] as const) {
        const d = decide(snap.gslb, plan, family, loc);
        if (d.rdata.length === 0) continue;
        answers++;
        if (!sign) continue;
        const original = Math.max(d.ttl, plan.ttl, plan.failoverTtl);
        signer.sign(owner, family === 4 ? 1 : 28, d.ttl, original, d.rdata, nowSec);
      }
  }
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, answers };
}

// Decisions first (they memoise the pools' hash orders), so the growth measured below is
// the signature cache's alone; the decide-only time is taken off the signing time.
signAll(false);
const decideOnly = signAll(false);
const before = settle();
const cold = signAll();
const signed = signer.cache.added;
const after = settle();
const warm = signAll();
if (signer.cache.added !== signed) throw new Error('the second pass computed signatures');

const entries = signer.cache.size;
const result = {
  algorithm: config.dnssec.algorithm,
  domains: domainCount,
  nodes: nodeCount,
  locations: locations.length,
  answers: cold.answers,
  entries,
  signatures: signed,
  signaturesPerSecond: Math.round(signed / (cold.seconds - decideOnly.seconds)),
  decideUsPerAnswer: Math.round((decideOnly.seconds / decideOnly.answers) * 1e7) / 10,
  coldSeconds: Math.round(cold.seconds * 10) / 10,
  cachedUsPerAnswer: Math.round((warm.seconds / warm.answers) * 1e7) / 10,
  cacheBytes: signer.cache.bytes,
  cacheMB: mb(signer.cache.bytes),
  cacheBytesPerEntry: Math.round(signer.cache.bytes / entries),
  heapGrowthMB: mb(after.heap + after.external - before.heap - before.external),
  heapBytesPerEntry: Math.round(
    (after.heap + after.external - before.heap - before.external) / entries,
  ),
  rssBeforeMB: mb(before.rss),
  rssAfterMB: mb(after.rss),
};
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(
    `${result.algorithm}: ${domainCount} domains, ${nodeCount} nodes, ${result.locations} locations × A/AAAA = ${result.answers} answers`,
  );
  console.log(
    `signed         ${result.signatures} distinct RRsets in ${result.coldSeconds} s = ${result.signaturesPerSecond} signatures/s (one core, decide() time taken off)`,
  );
  console.log(
    `cached         ${result.cachedUsPerAnswer} µs per answer (decide + cache hit; decide alone ${result.decideUsPerAnswer} µs)`,
  );
  console.log(
    `cache          ${result.entries} entries, SignatureCache.bytes ${result.cacheMB} MB (${result.cacheBytesPerEntry} B/entry)`,
  );
  console.log(
    `heap+external  +${result.heapGrowthMB} MB (${result.heapBytesPerEntry} B/entry); RSS ${result.rssBeforeMB} → ${result.rssAfterMB} MB`,
  );
}
