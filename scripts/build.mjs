// Builds what npm packs: the receiver package (packages/receiver/dist), then src/ compiled to dist/
// (JavaScript and .d.ts). The checkout runs the TypeScript sources directly (bin/smsgate.js), so
// development needs no build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
try {
  // src/ is compiled against the receiver's built declarations (tsconfig.build.json), so it goes first.
  execFileSync(process.execPath, ['packages/receiver/scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} catch {
  process.exit(1); // tsc has printed the errors
}
// Files that src/ loads by URL at run time (the checkpoint worker, SQL migrations): tsc copies none.
for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const from = join(entry.parentPath ?? entry.path, entry.name);
  const to = join(root, 'dist', relative(join(root, 'src'), from));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
// tsc keeps the sources' './x.ts' specifiers in declarations; TypeScript before 5 rejects them.
for (const entry of readdirSync(new URL('../dist', import.meta.url), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const path = `${entry.parentPath ?? entry.path}/${entry.name}`;
  writeFileSync(
    path,
    readFileSync(path, 'utf8').replace(/((?:from |import\()['"]\.\.?\/[^'"]+)\.ts(['"])/g, '$1.js$2'),
  );
}

// Declarations are for the entry points package.json exports (smsgate/receiver, smsgate/protocol):
// keep what they reach, drop the rest, which no user can import.
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const reachable = new Set();
const queue = Object.values(manifest.exports).flatMap((target) => (target.types ? [resolve(root, target.types)] : []));
while (queue.length) {
  const file = queue.pop();
  if (reachable.has(file)) continue;
  reachable.add(file);
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from |import\()['"](\.\.?\/[^'"]+)\.js['"]/g)) {
    queue.push(resolve(dirname(file), `${specifier}.d.ts`));
  }
}
for (const entry of readdirSync(join(root, 'dist'), { recursive: true, withFileTypes: true })) {
  const path = join(entry.parentPath ?? entry.path, entry.name);
  if (entry.isFile() && entry.name.endsWith('.d.ts') && !reachable.has(path)) rmSync(path);
}
