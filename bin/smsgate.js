#!/usr/bin/env node
// An installed package runs the compiled CLI in dist/. A checkout (it has src/, which the package
// does not ship) runs the TypeScript sources through tsx, so development needs no build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  // The repository's tsconfig maps smsgate-receiver to its sources; name it, since the working
  // directory may be anywhere.
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
