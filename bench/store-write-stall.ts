// How long the embedded store holds the event loop in one piece at scale: a state file of
// DOMAINS domains and NODES nodes, then WRITES single-record API writes (one node's weight,
// one domain's TTL, alternating) spaced GAP ms apart so each reaches the file on its own,
// then a burst, a write by another process, and stop(). A 1 ms interval timer records the
// longest gap between its ticks.
// `node --import tsx bench/store-write-stall.ts [DOMAINS] [NODES] [WRITES] [GAP_MS]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { repos } from '../test/helpers/repos.js';
import { snapshotSource } from '../src/repositories.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EmbeddedStore } from '../src/store/embedded.js';
import type { Domain, EdgeNode } from '../src/model/domain.js';

const domainCount = Number(process.argv[2] ?? 100_000);
const nodeCount = Number(process.argv[3] ?? 1000);
const writes = Number(process.argv[4] ?? 20);
const gapMs = Number(process.argv[5] ?? 400);

const at = '2026-12-01T00:00:00.000Z';
const domainOf = (i: number, ttl = 30): Domain => ({
  domain: `site-${i}.example.com`,
  label: `site-${i}`,
  origins: [
    {
      address: `198.18.${Math.floor(i / 256) % 256}.${i % 256}`,
      port: 443,
      protocol: 'https',
      weight: 1,
      backup: false,
    },
  ],
  ttl,
  createdAt: at,
  updatedAt: at,
});
const nodeOf = (i: number, weight = 100): EdgeNode => ({
  id: `edge-${i}`,
  pool: `pool-${i % 10}`,
  ipv4: `100.64.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  weight,
  active: true,
  health: {
    state: 'up',
    okStreak: 3,
    failStreak: 0,
    checks: 10,
    failures: 0,
    lastError: null,
    lastChange: at,
    lastCheck: at,
  },
});

/** The three longest gaps between ticks of a 1 ms timer while `work` runs, less the period. */
async function longestBlock(work: () => Promise<void>): Promise<number[]> {
  let last = performance.now();
  const gaps: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last - 1);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  gaps.length = 0;
  last = performance.now();
  await work();
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  return gaps
    .sort((a, b) => b - a)
    .slice(0, 3)
    .map((g) => Math.max(0, g));
}

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = (x: number) => `${x.toFixed(1)} ms`;
const worst = ([first, ...then]: number[]) =>
  `${ms(first ?? 0)} (next ${then.map((g) => g.toFixed(1)).join(', ')})`;

const dir = mkdtempSync(join(tmpdir(), 'cirrus-write-stall-'));
try {
  const file = join(dir, 'state.json');
  const domains: Record<string, Domain> = {};
  for (let i = 1; i <= domainCount; i++) domains[`site-${i}.example.com`] = domainOf(i);
  const nodes: Record<string, EdgeNode> = {};
  for (let i = 1; i <= nodeCount; i++) nodes[`edge-${i}`] = nodeOf(i);
  // The file as the embedded store writes it: every domain and node through its repository.
  const builder = new EmbeddedStore();
  for (const d of Object.values(domains)) await repos(builder).domains.put(d);
  await repos(builder).nodes.replace(Object.values(nodes));
  for (const n of Object.values(nodes))
    if (n.health) await repos(builder).nodes.setHealth(n.id, n.active, n.health);
  const text = JSON.stringify(builder.toFile(), (_k, v: unknown) =>
    v instanceof Map ? Object.fromEntries(v) : v,
  );
  writeFileSync(file, text);
  console.log(
    `state file: ${domainCount} domains, ${nodeCount} nodes, ${(text.length / 1e6).toFixed(1)} MB`,
  );

  const store = new EmbeddedStore({ file, watchIntervalMs: 500 });
  let t = performance.now();
  await store.start();
  console.log(`start (read + parse):            ${ms(performance.now() - t)}`);

  t = performance.now();
  await snapshotSource(repos(store)).loadState('cdn.example.net.');
  console.log(`loadState:                       ${ms(performance.now() - t)}`);

  // The noise floor: the same timer with nothing to do (a busy machine preempts us too).
  const idle = await longestBlock(() => sleep(writes * gapMs));
  console.log(
    `no writes, ${writes * gapMs} ms:              longest event-loop block ${worst(idle)}`,
  );

  const callTimes: number[] = [];
  const writesBlock = await longestBlock(async () => {
    for (let w = 1; w <= writes; w++) {
      const t0 = performance.now();
      if (w % 2) await repos(store).nodes.put(nodeOf(w, 100 + w));
      else await repos(store).domains.put(domainOf(w, 30 + w));
      callTimes.push(performance.now() - t0);
      await sleep(gapMs);
    }
  });
  callTimes.sort((a, b) => a - b);
  console.log(
    `${writes} writes, ${gapMs} ms apart: longest event-loop block ${worst(writesBlock)}; ` +
      `write call median ${ms(callTimes[callTimes.length >> 1] ?? 0)}, max ${ms(callTimes.at(-1) ?? 0)}`,
  );

  const burstBlock = await longestBlock(async () => {
    for (let w = 1; w <= 100; w++) await repos(store).nodes.put(nodeOf(w, 500 + w));
    await sleep(gapMs);
  });
  console.log(`burst of 100 writes:             longest event-loop block ${worst(burstBlock)}`);

  // Another process (as `cirrus token create` does) replaces the file; the running store
  // adopts it and announces a remote change.
  const foreign = `${file}.foreign`;
  writeFileSync(foreign, text);
  const adopted = new Promise<void>((resolve) =>
    store.onChange((c) => void (c.origin === 'remote' && resolve())),
  );
  t = performance.now();
  const foreignBlock = await longestBlock(async () => {
    await run('mv', [foreign, file]);
    await adopted;
  });
  console.log(
    `foreign write adopted after:     ${ms(performance.now() - t)}, longest block ${worst(foreignBlock)}`,
  );

  t = performance.now();
  const stopBlock = await longestBlock(async () => {
    await repos(store).nodes.put(nodeOf(1, 999));
    await store.stop();
  });
  console.log(
    `write + stop():                  ${ms(performance.now() - t)}, longest block ${worst(stopBlock)}`,
  );

  const check = new EmbeddedStore({ file });
  await check.start();
  const kept = (await repos(check).nodes.get('edge-1'))?.weight === 999;
  await check.stop();
  console.log(`last write on disk after stop(): ${kept ? 'yes' : 'NO'}`);
  if (!kept) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
