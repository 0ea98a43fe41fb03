// What held the event loop: for each block recorded by bench/loop-blocks-preload.mjs, the
// functions the CPU profile of the same process sampled in it (inclusive and self time).
//
//   LOOP_BLOCKS_DIR=DIR NODE_OPTIONS="--import $PWD/bench/loop-blocks-preload.mjs --cpu-prof
//     --cpu-prof-dir=DIR" BENCH_SOAK_SECONDS=0 BENCH_SUITES=gslb BENCH_SERVERS=cirrus bash bench/run
//   node bench/loop-blocks.mjs DIR/CPU.…PID….cpuprofile DIR/blocks-PID.json
import { readFileSync } from 'node:fs';

const [profileFile, blocksFile] = process.argv.slice(2);
if (!profileFile || !blocksFile) {
  console.error('usage: node bench/loop-blocks.mjs PROFILE.cpuprofile blocks-PID.json');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
const blocks = JSON.parse(readFileSync(blocksFile, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const at = [];
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) at.push((t += profile.timeDeltas[i]));
const name = (id) => {
  const f = byId.get(id).callFrame;
  return `${f.functionName || '(anonymous)'}@${f.url.split('/').pop()}:${f.lineNumber + 1}`;
};
const top = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${k} ${(us / 1000).toFixed(0)}`)
    .join(' | ');

for (const b of blocks) {
  const from = b.endUs - b.ms * 1000;
  const inclusive = new Map();
  const self = new Map();
  for (let i = 0; i < at.length; i++) {
    if (at[i] < from || at[i] > b.endUs) continue;
    const us = profile.timeDeltas[i + 1] ?? 0;
    const leaf = name(profile.samples[i]);
    self.set(leaf, (self.get(leaf) ?? 0) + us);
    const seen = new Set();
    for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const k = name(id);
      if (k.startsWith('(root)') || seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const before = (profile.endTime - b.endUs) / 1e6;
  console.log(`${b.ms.toFixed(0)} ms held, ${before.toFixed(2)} s before the profile ends`);
  console.log(`  inclusive ms: ${top(inclusive, 12)}`);
  console.log(`  self ms:      ${top(self, 6)}`);
}
