// What a V8 heap snapshot holds, summed: self size by kind (strings grouped by their
// shape, digits as #), and the objects over 200 kB with what holds them. For attributing
// a Cirrus process's memory, e.g. at 30,000 domains (a 100,000-domain snapshot is too
// large a JSON text for one JSON.parse):
//
//   NODE_OPTIONS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR" BENCH_SETTLE_SECONDS=40 \
//     node bench/snapshot-server.mjs 30000 1000 2 &
//   kill -USR2 PID_OF_CIRRUS            # during the settle; the snapshot lands in DIR
//   node --max-old-space-size=8000 bench/heap-summary.mjs DIR/Heap.….heapsnapshot
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/heap-summary.mjs FILE.heapsnapshot');
  process.exit(2);
}
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const types = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const at = (field) => meta.node_fields.indexOf(field);
const [iType, iName, iSize, iEdges] = ['type', 'name', 'self_size', 'edge_count'].map(at);
const count = nodes.length / nf;

const MB = (b) => (b / 1e6).toFixed(2).padStart(7);
const kinds = new Map();
const shapes = new Map();
const big = [];
let total = 0;
for (let i = 0; i < count; i++) {
  const type = types[nodes[i * nf + iType]];
  const name = strings[nodes[i * nf + iName]];
  const size = nodes[i * nf + iSize];
  total += size;
  const isString = type.includes('string');
  const kind = isString ? '(strings)' : `${type}: ${name.slice(0, 40)}`;
  const k = kinds.get(kind) ?? { n: 0, size: 0 };
  k.n++;
  k.size += size;
  kinds.set(kind, k);
  if (isString) {
    const shape = JSON.stringify(name.replace(/[0-9]+/g, '#').slice(0, 28));
    const s = shapes.get(shape) ?? { n: 0, size: 0 };
    s.n++;
    s.size += size;
    shapes.set(shape, s);
  }
  if (size > 200_000) big.push({ i, type, name: name.slice(0, 50), size });
}
const top = (m, n) => [...m].sort((a, b) => b[1].size - a[1].size).slice(0, n);
console.log(`${count} objects, ${MB(total)} MB of self size`);
console.log('--- by kind (MB, count)');
for (const [k, v] of top(kinds, 25)) console.log(MB(v.size), String(v.n).padStart(8), k);
console.log('--- strings by shape (MB, count)');
for (const [k, v] of top(shapes, 15)) console.log(MB(v.size), String(v.n).padStart(8), k);

// Who holds each large object: the edges that point at it.
const wanted = new Map(big.map((b) => [b.i * nf, []]));
const iTo = meta.edge_fields.indexOf('to_node');
const iEdgeName = meta.edge_fields.indexOf('name_or_index');
const iEdgeType = meta.edge_fields.indexOf('type');
for (let i = 0, e = 0; i < count; i++) {
  const end = e + nodes[i * nf + iEdges] * ef;
  for (; e < end; e += ef) {
    const holders = wanted.get(edges[e + iTo]);
    if (!holders || holders.length >= 3) continue;
    const et = edgeTypes[edges[e + iEdgeType]];
    const en =
      et === 'element' || et === 'hidden' ? edges[e + iEdgeName] : strings[edges[e + iEdgeName]];
    holders.push(`${strings[nodes[i * nf + iName]].slice(0, 30)}.${String(en).slice(0, 30)}`);
  }
}
console.log('--- objects over 200 kB (MB), held by');
for (const b of big.sort((x, y) => y.size - x.size).slice(0, 15))
  console.log(MB(b.size), b.type, JSON.stringify(b.name), '<-', wanted.get(b.i * nf).join(' ; '));
