// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its .d.ts, from src/ with tsc.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
for (const config of ['tsconfig.esm.json', 'tsconfig.cjs.json']) {
  try {
    execFileSync(process.execPath, [tsc, '-p', config], { cwd: packageDir, stdio: 'inherit' });
  } catch {
    process.exit(1); // tsc has printed the errors
  }
}
// The package is "type": "module"; this marks the .js files under dist/cjs as CommonJS.
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
// tsc keeps the sources' './x.ts' specifiers in declarations; TypeScript before 5 rejects them.
for (const dir of ['esm', 'cjs']) {
  for (const file of readdirSync(new URL(`../dist/${dir}/`, import.meta.url)).filter((f) => f.endsWith('.d.ts'))) {
    const path = new URL(`../dist/${dir}/${file}`, import.meta.url);
    writeFileSync(
      path,
      readFileSync(path, 'utf8').replace(/((?:from |import\()['"]\.\.?\/[^'"]+)\.ts(['"])/g, '$1.js$2'),
    );
  }
}
