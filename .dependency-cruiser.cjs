// The layers of src/, lowest first: a module may import its own layer and those below it,
// never one above (README, "Layout"). Run by `npm run lint`; a back edge or a cycle between
// files or between folders fails it.
/** @type {string[][]} folders (or top-level files) of src/, one entry per layer */
const LAYERS = [
  ['lib', 'metrics'],
  ['wire'],
  ['config'],
  ['store'],
  ['zone', 'geo', 'dnssec'],
  ['gslb'],
  ['model'],
  ['snapshot'],
  ['pipeline'],
  ['health', 'xfr', 'acme', 'edge', 'domains', 'auth', 'protect', 'externaldns'],
  ['repositories\\.ts', 'state-file-v1\\.ts', 'open-store\\.ts'],
  ['dns'],
  ['api'],
  ['server\\.ts'],
  ['cli\\.ts'],
];

const under = (names) => `^src/(${names.join('|')})(/|$)`;

/** One rule per layer: nothing in it imports anything in a layer above it. */
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join('-').replace(/\\\./g, '.')}`,
  comment: `${layer.join(', ')} may not import ${LAYERS.slice(i + 1)
    .flat()
    .join(', ')} (a lower layer importing a higher one)`,
  severity: 'error',
  from: { path: under(layer) },
  to: { path: under(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'files that import each other, directly or through others',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'folders that import each other, directly or through others',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'src-is-listed',
      comment: 'every folder of src/ belongs to a layer: add a new one to LAYERS',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: under(LAYERS.flat()) },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
