// Sums a profile written by bench/alloc-sample-preload.mjs: MB allocated by each function
// itself (self) and under it (inclusive, Cirrus's own functions), over the sampled window.
//
//   ALLOC_SAMPLE_DIR=DIR node --import $PWD/bench/alloc-sample-preload.mjs dist/src/cli.js serve
//   (load it meanwhile), then: node bench/alloc-sample.mjs DIR/alloc-PID.heapprofile [TOP]
import { readFileSync } from 'node:fs';

const [file, topArg = '25'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/alloc-sample.mjs alloc-PID.heapprofile [TOP]');
  process.exit(2);
}
const top = Number(topArg);
const { head } = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
const inclusive = new Map();
const name = (n) => {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'}@${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
};
let total = 0;
const walk = (node, stack) => {
  const k = name(node);
  const size = node.selfSize ?? 0;
  total += size;
  self.set(k, (self.get(k) ?? 0) + size);
  const frames = new Set(stack).add(k);
  for (const f of frames) inclusive.set(f, (inclusive.get(f) ?? 0) + size);
  for (const c of node.children ?? []) walk(c, frames);
};
walk(head, new Set());
const mb = (b) => (b / 1048576).toFixed(1).padStart(7);
const list = (m, keep) =>
  [...m]
    .filter(([k]) => keep(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${mb(v)}  ${k}`)
    .join('\n');
console.log(
  `${mb(total)} MB allocated in the sampled window\n\nself MB:\n${list(self, () => true)}`,
);
console.log(
  `\ninclusive MB (dist/src):\n${list(inclusive, (k) => !k.includes('node:') && /\.js:/.test(k) && !k.startsWith('(anonymous)@:'))}`,
);
