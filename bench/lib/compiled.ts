/**
 * The sources compiled to JavaScript, as `npm run build` compiles what users install, for a
 * benchmark that measures a process's memory: under tsx, every process also carries tsx's loader
 * thread (a V8 isolate of ~35 MB) that no installed smsgate has.
 *
 * tsc (tsconfig.build.json's settings) writes src/ and bench/lib/ to bench/.compiled/, keeping the
 * repository's layout, so that what src/ loads by URL at run time (the checkpoint worker, SQL
 * migrations, ../../package.json, the dashboard's web/) is found where it is in the checkout, and
 * node_modules is found by walking up. It takes ~20-40 s; each benchmark run compiles afresh.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'bench', '.compiled');

/** Compiles once per process; returns the compiled path of a repository file (e.g. 'bench/lib/device-host.ts'). */
export function compiled(file: string): string {
  if (!compiledOnce) {
    compile();
    compiledOnce = true;
  }
  return join(OUT, file.replace(/\.ts$/, '.js'));
}
let compiledOnce = false;

function compile(): void {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  // src/ imports the receiver SDK by its package name: its build must exist.
  if (!existsSync(join(ROOT, 'packages/receiver/dist'))) {
    execFileSync(process.execPath, ['packages/receiver/scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  }
  const config = join(OUT, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: { declaration: false, rootDir: ROOT, outDir: OUT },
      include: [join(ROOT, 'src'), join(ROOT, 'bench/lib')],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', config], { cwd: ROOT, stdio: 'inherit' });
  // What src/ reads by URL next to its modules (tsc copies no file that is not TypeScript).
  for (const entry of readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
    const from = join(entry.parentPath ?? entry.path, entry.name);
    const to = join(OUT, relative(ROOT, from));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
  }
  copyFileSync(join(ROOT, 'package.json'), join(OUT, 'package.json'));
  symlinkSync(join(ROOT, 'web'), join(OUT, 'web'));
}
