// The import structure, checked by `npm run lint` (dependency-cruiser reads the TypeScript
// sources, type-only imports included):
// - no module imports itself through others (a cycle);
// - the layers: protocol ← shared ← device | server | receiver ← cli. A layer imports only the
//   ones to its left: the wire contract imports nothing of ours, the shared plumbing no runtime,
//   the runtimes not one another; only the command line puts them together.
const layer = (name, mayImport) => ({
  name: `layers: ${name}`,
  comment: `src/${name} imports from src/ only ${mayImport.length ? mayImport.join(', ') : 'itself'}`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: [`^src/${name}/`, ...mayImport.map((l) => `^src/${l}/`)] },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'a module reaches itself through its imports (type-only imports count too)',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('protocol', []),
    layer('shared', ['protocol']),
    layer('device', ['protocol', 'shared']),
    layer('server', ['protocol', 'shared']),
    layer('receiver', ['protocol', 'shared']),
  ],
  options: {
    // type-only imports are dependencies too: a cycle through them is still a cycle
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|data|test-output|dist|bench/[.]compiled)/' },
  },
};
