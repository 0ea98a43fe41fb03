// Build time and memory of one snapshot of the large store (issue 7, targets 3 and 4):
// the GSLB bench's data (bench/gslb-seed.mjs: N domains with one origin each, M nodes in
// 10 pools, the country/continent policy) as a StoreState parsed from JSON, as the
// embedded store holds it after reading its file. Reports the content hash and build
// times, heap and RSS after a forced gc, the bytes a snapshot retains per domain, the same
// for a second build while the first is alive (a swap holds two), and after one
// location-free A decision for 10,000 domains (the memoised hash order heads).
// `node --expose-gc --import tsx bench/snapshot-memory.ts [DOMAINS] [NODES] [--json]`.
import { finishConfig } from '../src/config/load.js';
import { buildSteps } from '../src/snapshot/build.js';
import { contentHashSteps } from '../src/snapshot/content-hash.js';
import { runSteps } from '../src/snapshot/steps.js';
import { decide } from '../src/gslb/decide.js';
import type { Snapshot } from '../src/snapshot/snapshot.js';
import type { StoreState } from '../src/snapshot/source.js';
import { largeState as buildLargeState } from './large-state.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const domainCount = Number(args[0] ?? 100_000);
const nodeCount = Number(args[1] ?? 1000);
const asJson = process.argv.includes('--json');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const config = finishConfig({ seed: { dir: null }, store: { file: null } });

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
const ms = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1e5) / 10;

/** One build; after `previous`, the hash continues and the static parse is kept as a rebuild's are. */
function build(
  state: StoreState,
  generation: number,
  previous?: Snapshot,
): { snap: Snapshot; hashMs: number; buildMs: number } {
  let t = process.hrtime.bigint();
  const { digest: hash, carry } = runSteps(contentHashSteps(config, state, previous?.hashCarry));
  const hashMs = ms(t);
  t = process.hrtime.bigint();
  const snap = runSteps(
    buildSteps({
      config,
      state,
      generation,
      serial: 1,
      contentHash: hash,
      now: 0,
      previousStatics: previous?.statics,
      hashCarry: carry,
    }),
  );
  return { snap, hashMs, buildMs: ms(t) };
}

const state = buildLargeState(domainCount, nodeCount);
const base = settle();
const first = build(state, 1);
const one = settle();
const second = build(state, 2, first.snap);
const two = settle();
// A first answer memoises the head of the domain's hash order in its pool; the location-
// free view answers from the default pool (every node), so a sample of domains suffices.
const answered = Math.min(domainCount, 10_000);
let decided = 0;
for (const plan of [...first.snap.plans.values()].slice(0, answered))
  decided += decide(first.snap.gslb, plan, 4, undefined).rdata.length;
const asked = settle();

const per = (a: Mem, b: Mem) =>
  Math.round((b.heap + b.external - a.heap - a.external) / domainCount);
const result = {
  domains: domainCount,
  nodes: nodeCount,
  plans: first.snap.plans.size,
  hashMs: [first.hashMs, second.hashMs],
  buildMs: [first.buildMs, second.buildMs],
  baseline: { heapMB: mb(base.heap), externalMB: mb(base.external), rssMB: mb(base.rss) },
  firstSnapshot: {
    heapMB: mb(one.heap),
    rssMB: mb(one.rss),
    bytesPerDomain: per(base, one),
  },
  secondSnapshot: {
    heapMB: mb(two.heap),
    rssMB: mb(two.rss),
    bytesPerDomain: per(one, two),
  },
  afterOneDecisionEach: {
    heapMB: mb(asked.heap),
    rssMB: mb(asked.rss),
    domains: answered,
    bytesPerDomain: Math.round((asked.heap + asked.external - two.heap - two.external) / answered),
    addresses: decided,
  },
};
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(`${domainCount} domains, ${nodeCount} nodes (${result.plans} plans)`);
  console.log(
    `content hash   ${result.hashMs.join(' / ')} ms (first / second build: the same domain objects)`,
  );
  console.log(`build          ${result.buildMs.join(' / ')} ms`);
  console.log(
    `state alone    heap ${result.baseline.heapMB} MB, external ${result.baseline.externalMB} MB, RSS ${result.baseline.rssMB} MB`,
  );
  for (const [label, r] of [
    ['+1 snapshot   ', result.firstSnapshot],
    ['+2nd snapshot ', result.secondSnapshot],
    [`+1 answer for ${answered}`, result.afterOneDecisionEach],
  ] as const)
    console.log(
      `${label} heap ${r.heapMB} MB, RSS ${r.rssMB} MB, ${r.bytesPerDomain} B/domain retained`,
    );
}
// Keep both snapshots alive until every figure is taken.
if (second.snap.generation === first.snap.generation) console.log('unreachable');
