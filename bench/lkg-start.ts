// Start-up from the last-known-good file (issue 15): N domains and M nodes (the shape of
// bench/gslb-seed.mjs) written as a last-known-good file, then a Cirrus on a Redis URL
// nobody listens on is started from it: reports the file size, the time to write it, the
// read-and-check and build times apart, the time `start()` takes, and the time to the
// first answer from `dig`.
// `node --import tsx bench/lkg-start.ts [DOMAINS] [NODES]` (default 100000 1000).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { finishConfig } from '../src/config/load.js';
import { assignLabel } from '../src/gslb/base-label.js';
import { contentHashSteps } from '../src/snapshot/content-hash.js';
import { runSteps } from '../src/snapshot/steps.js';
import { readLastKnownGood, writeLastKnownGood } from '../src/snapshot/last-known-good.js';
import { buildSteps } from '../src/snapshot/build.js';
import { silentLogger } from '../src/lib/logger.js';
import { Cirrus } from '../src/server.js';
import type { StoreState } from '../src/snapshot/source.js';

const domainCount = Number(process.argv[2] ?? 100_000);
const nodeCount = Number(process.argv[3] ?? 1000);
const ZONE = 'cdn.example.net';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

function largeState(): StoreState {
  const at = '2026-12-01T00:00:00.000Z';
  const domains = [];
  for (let i = 1; i <= domainCount; i++) {
    const domain = `site-${i}.example.com`;
    domains.push({
      domain,
      label: assignLabel(domain, () => false),
      origins: [
        {
          address: `198.18.${Math.floor(i / 256) % 256}.${i % 256}`,
          protocol: 'https' as const,
          port: 443,
          weight: 1,
          backup: false,
        },
      ],
      createdAt: at,
      updatedAt: at,
    });
  }
  const nodes = [];
  for (let i = 1; i <= nodeCount; i++) {
    nodes.push({
      id: `edge-${i}`,
      ipv4: `100.64.${Math.floor(i / 256)}.${i % 256}`,
      pool: `pool-${i % 10}`,
      weight: 100,
      active: true,
    });
  }
  return { domains, nodes, zoneText: null, policy: null, acmeTxt: [] };
}

const dir = mkdtempSync(join(tmpdir(), 'cirrus-lkg-bench-'));
const lkgFile = join(dir, 'last-known-good.lkg');
try {
  const config = finishConfig(
    {
      zone: { name: ZONE },
      seed: { dir: null },
      store: { redisUrl: `redis://127.0.0.1:${await freePort()}`, file: null },
      snapshot: { lkgFile },
      health: { probe: { type: 'none' } },
      log: { level: 'silent' },
      dns: { listen: ['127.0.0.1:0'] },
      api: { listen: '127.0.0.1:0' },
    },
    'bench config',
  );
  const state = largeState();
  const { digest } = runSteps(contentHashSteps(config, state, undefined));
  let t = performance.now();
  await writeLastKnownGood(lkgFile, ZONE, {
    state,
    generation: 1,
    serial: 2026120101,
    contentHash: digest,
    now: Date.now(),
  });
  const writeMs = performance.now() - t;
  const bytes = statSync(lkgFile).size;

  // The two parts of a start from the file: read + check + decode, then the snapshot build.
  t = performance.now();
  const read = await readLastKnownGood(lkgFile, ZONE);
  const readMs = performance.now() - t;
  if (!read.found) throw new Error('the file just written was not read back');
  t = performance.now();
  runSteps(buildSteps({ ...read.lkg.recipe, config }));
  const buildMs = performance.now() - t;

  const cirrus = new Cirrus({ config, logger: silentLogger() });
  t = performance.now();
  await cirrus.start();
  const startMs = performance.now() - t;
  const port = (cirrus.dnsAddresses[0] as { port: number }).port;
  const { stdout } = await promisify(execFile)('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    `${state.domains[domainCount - 1]?.label}.${ZONE}`,
    'A',
    '+short',
  ]);
  const answerMs = performance.now() - t;
  const source = cirrus.snapshots.source;
  const domains = cirrus.snapshots.current.domains.size;
  await cirrus.stop();
  console.log(
    JSON.stringify({
      domains: domainCount,
      nodes: nodeCount,
      fileMB: +(bytes / 1e6).toFixed(1),
      writeMs: Math.round(writeMs),
      readMs: Math.round(readMs),
      buildMs: Math.round(buildMs),
      startMs: Math.round(startMs),
      firstAnswerMs: Math.round(answerMs),
      source,
      served: domains,
      answer: stdout.trim().split('\n')[0],
      rssMB: Math.round(process.memoryUsage().rss / 1e6),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
