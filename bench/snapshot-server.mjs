// The large store served by a real Cirrus (dist/), without load: the first snapshot build
// (cirrus_snapshot_build_seconds), RSS after start, then REBUILDS node PATCHes through the
// API (each one rebuilds the snapshot), rebuild time and RSS just after them and after
// BENCH_SETTLE_SECONDS (15) idle. The same store as
// bench/gslb.mjs's large-store phase (bench/state-file.mjs), no GeoIP database.
// `node bench/snapshot-server.mjs [DOMAINS] [NODES] [REBUILDS]` (build dist/ first).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeGslbSeed, nodeOf } from './gslb-seed.mjs';
import { CIRRUS_NODE_FLAGS } from './servers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [domains = 100_000, nodes = 1000, rebuilds = 3] = process.argv.slice(2).map(Number);
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 15);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const rssMb = (pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const tmp = mkdtempSync(join(tmpdir(), 'cirrus-snapshot-server-'));
let child;
try {
  writeGslbSeed(join(tmp, 'seed'), domains, nodes);
  // Response rate limiting off: the load comes from one address (see bench/README.md).
  const env = { ...process.env, LOG_LEVEL: 'warn', DNS_RRL_RATE: '0' };
  for (const k of ['REDIS_URL', 'CNAME_BASE_DOMAIN', 'CIRRUS_CONFIG']) delete env[k];
  const stateFile = join(tmp, 'state.json');
  const token = execFileSync(
    process.execPath,
    [join(ROOT, 'bench/state-file.mjs'), join(tmp, 'seed'), stateFile],
    { encoding: 'utf8', env },
  ).trim();
  const api = await freePort();
  child = spawn(
    process.execPath,
    [
      ...CIRRUS_NODE_FLAGS,
      ...(process.env.SERVE_ARGS ?? '').split(' ').filter(Boolean),
      join(ROOT, 'dist/src/cli.js'),
      'serve',
    ],
    {
      env: {
        ...env,
        SEED_DIR: '',
        STATE_FILE: stateFile,
        DNS_LISTEN: `127.0.0.1:${await freePort()}`,
        API_LISTEN: `127.0.0.1:${api}`,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const builds = async () => {
    for (let i = 0; ; i++) {
      try {
        const text = await (await fetch(`http://127.0.0.1:${api}/metrics`)).text();
        const num = (k) =>
          Number(
            new RegExp(`^cirrus_snapshot_build_seconds_${k}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(
              text,
            )?.[1],
          );
        const mb = (k) =>
          Math.round(
            Number(new RegExp(`^cirrus_nodejs_${k}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1]) /
              1048576,
          );
        return {
          sum: num('sum'),
          count: num('count'),
          heapUsedMb: mb('heap_size_used_bytes'),
          heapTotalMb: mb('heap_size_total_bytes'),
          externalMb: mb('external_memory_bytes'),
        };
      } catch (err) {
        if (i >= 600) throw err;
        await sleep(200);
      }
    }
  };
  let b = await builds();
  while (!(b.count >= 1)) {
    await sleep(200);
    b = await builds();
  }
  const first = b;
  await sleep(1000);
  const rssStart = rssMb(child.pid);
  const heapStart = await builds();
  let weight = 100;
  for (let i = 0; i < rebuilds; i++) {
    weight = weight === 100 ? 99 : 100;
    const r = await fetch(`http://127.0.0.1:${api}/api/v1/nodes/${nodeOf(1).id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ weight }),
    });
    if (!r.ok) throw new Error(`PATCH node: HTTP ${r.status} ${await r.text()}`);
    const want = b.count + 1;
    for (let t = 0; b.count < want && t < 300; t++) {
      await sleep(100);
      b = await builds();
    }
    await sleep(500);
  }
  const rebuild = (b.sum - first.sum) / Math.max(1, b.count - first.count);
  const rssAfter = rssMb(child.pid);
  // Idle, V8's memory reducer collects what the rebuilds left behind and gives pages back.
  await sleep(SETTLE_SECONDS * 1000);
  const settled = await builds();
  console.log(
    JSON.stringify({
      domains,
      nodes,
      firstBuildSeconds: +(first.sum / first.count).toFixed(3),
      rssStartMb: Math.round(rssStart),
      heapStartMb: {
        used: heapStart.heapUsedMb,
        total: heapStart.heapTotalMb,
        external: heapStart.externalMb,
      },
      rebuilds: b.count - first.count,
      rebuildSeconds: +rebuild.toFixed(3),
      rssAfterRebuildsMb: Math.round(rssAfter),
      heapAfterMb: { used: b.heapUsedMb, total: b.heapTotalMb, external: b.externalMb },
      rssSettledMb: Math.round(rssMb(child.pid)),
      heapSettledMb: {
        used: settled.heapUsedMb,
        total: settled.heapTotalMb,
        external: settled.externalMb,
      },
    }),
  );
} finally {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  rmSync(tmp, { recursive: true, force: true });
}
