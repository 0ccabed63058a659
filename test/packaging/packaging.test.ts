// The packages as users get them: `npm pack` both, install the tarballs into empty projects from
// the local npm cache alone (--offline), and use them there: the receiver SDK from ES modules,
// CommonJS and TypeScript on every runtime we have, the CLI through npx.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { checkCliContract } from '../cli/contract.ts';
import { consumerLock, type Tarball } from './consumer-lock.ts';
import { basic } from '../helpers/http.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const VECTORS = fileURLToPath(new URL('../vectors/signatures.json', import.meta.url));
// Installed by scripts/install-test-runtimes.sh (scripts/test-all.sh runs it), which uses the same default.
const RUNTIMES = join(
  process.env.SMSGATE_TEST_RUNTIMES ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'smsgate-test-runtimes'),
  'node_modules',
);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const result = await run(command, args, cwd, env);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

interface Packed extends Tarball {
  files: string[];
  size: number;
}

let work: string;
const packed: Record<'smsgate' | 'smsgate-receiver', Packed> = {} as never;
let receiverApp: string;
let app: string;

before(async () => {
  for (const runtime of ['node18/bin/node', 'node24/bin/node', '.bin/bun', '.bin/deno']) {
    assert.ok(
      existsSync(join(RUNTIMES, runtime)),
      `${join(RUNTIMES, runtime)} is missing: run bash scripts/install-test-runtimes.sh`,
    );
  }
  work = mkdtempSync(join(tmpdir(), 'smsgate-packaging-'));
  // prepack builds each package (tsc) before it is packed.
  const { stdout } = await ok(
    'npm',
    ['pack', '--workspaces', '--include-workspace-root', '--pack-destination', work, '--json'],
    ROOT,
  );
  for (const entry of JSON.parse(stdout) as {
    name: 'smsgate' | 'smsgate-receiver';
    filename: string;
    size: number;
    files: { path: string }[];
  }[]) {
    const bytes = readFileSync(join(work, entry.filename));
    const manifest = JSON.parse(
      readFileSync(join(ROOT, entry.name === 'smsgate' ? '' : 'packages/receiver', 'package.json'), 'utf8'),
    );
    packed[entry.name] = {
      file: entry.filename,
      manifest,
      bytes,
      size: entry.size,
      files: entry.files.map((f) => f.path),
    };
  }
  assert.deepEqual(Object.keys(packed).sort(), ['smsgate', 'smsgate-receiver']);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('each tarball holds what it needs to run, its README and LICENSE, and nothing else', () => {
  const receiver = packed['smsgate-receiver'];
  const smsgate = packed.smsgate;
  for (const { files } of [receiver, smsgate]) {
    for (const required of ['package.json', 'README.md', 'LICENSE']) assert.ok(files.includes(required), required);
    for (const file of files) {
      assert.doesNotMatch(file, /^(test|bench|\.ci|src|scripts|packages|examples|docs|data)\//, file);
      assert.doesNotMatch(file, /^(BENCHMARKS\.md|tsconfig.*\.json|package-lock\.json|\.[a-z].*)$/, file);
    }
  }
  assert.deepEqual([...new Set(receiver.files.map((f) => f.split('/')[0]))].sort(), [
    'LICENSE',
    'README.md',
    'dist',
    'package.json',
  ]);
  for (const entry of ['dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/web.d.ts']) {
    assert.ok(receiver.files.includes(entry), entry);
  }
  for (const entry of ['bin/smsgate.js', 'dist/cli/main.js', 'dist/shared/checkpoint-worker.mjs', 'web/index.html']) {
    assert.ok(smsgate.files.includes(entry), entry);
  }
  assert.ok(!smsgate.files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources');
  // What src/ loads by URL at run time (the checkpoint worker, SQL migrations) is there beside the JS.
  const assets = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.ts'))
    .map((e) => `dist/${relative(join(ROOT, 'src'), join(e.parentPath, e.name))}`);
  assert.ok(
    assets.some((f) => f.endsWith('.sql')),
    assets.join(', '),
  );
  for (const asset of assets) assert.ok(smsgate.files.includes(asset), asset);
  // Declarations only for what package.json exports (smsgate/receiver, smsgate/protocol).
  const declarations = smsgate.files.filter((f) => f.endsWith('.d.ts'));
  assert.ok(declarations.includes('dist/receiver/index.d.ts') && declarations.includes('dist/protocol/index.d.ts'));
  assert.deepEqual(
    declarations.filter((f) => !/^dist\/(receiver|protocol)\//.test(f)),
    [],
  );
});

test('the receiver tarball has no dependencies and is under 50 kB', () => {
  const { manifest, size } = packed['smsgate-receiver'];
  const fields = manifest as Record<string, unknown>;
  for (const kind of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) {
    assert.equal(fields[kind], undefined, kind);
  }
  assert.ok(size < 50_000, `${size} bytes`);
});

test('the receiver installs alone, offline, with nothing else', async () => {
  receiverApp = join(work, 'receiver-app');
  mkdirSync(receiverApp);
  writeFileSync(join(receiverApp, 'package.json'), JSON.stringify({ name: 'receiver-app', private: true }));
  for (const file of ['receiver-check.mjs', 'receiver-check.cjs', 'receiver-types.mts', 'receiver-types.cts']) {
    copyFileSync(join(FIXTURES, file), join(receiverApp, file));
  }
  copyFileSync(VECTORS, join(receiverApp, 'signatures.json'));
  copyFileSync(join(work, packed['smsgate-receiver'].file), join(receiverApp, packed['smsgate-receiver'].file));
  const install = await ok(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', `./${packed['smsgate-receiver'].file}`],
    receiverApp,
  );
  // npm's own complaints about settings in the environment are not about the package.
  const warnings = (install.stdout + install.stderr)
    .split('\n')
    .filter((line) => /npm warn/i.test(line) && !/Unknown (env|user|project) config/.test(line));
  assert.deepEqual(warnings, []);
  const lock = JSON.parse(readFileSync(join(receiverApp, 'package-lock.json'), 'utf8'));
  assert.deepEqual(Object.keys(lock.packages).sort(), ['', 'node_modules/smsgate-receiver']);
});

const VECTOR_COUNT = (JSON.parse(readFileSync(VECTORS, 'utf8')) as { vectors: unknown[] }).vectors.length;
const checkLine = (module: string, webVerified: number | string) => ({
  module,
  verified: VECTOR_COUNT,
  webVerified,
  tamperedRejected: VECTOR_COUNT,
  parsed: 'sms:received',
  deduped: [false, true],
});

for (const [runtime, command, args] of [
  [`node ${process.version}`, process.execPath, []],
  ['node 18', join(RUNTIMES, 'node18/bin/node'), []],
  ['node 24', join(RUNTIMES, 'node24/bin/node'), []],
  ['bun', join(RUNTIMES, '.bin/bun'), []],
  // --cached-only: no network; the package comes from node_modules, found through package.json.
  ['deno', join(RUNTIMES, '.bin/deno'), ['run', '--cached-only', '--allow-read']],
] as [string, string, string[]][]) {
  test(`${runtime}: .mjs and .cjs import the receiver, verify the vectors and reject a tampered body`, async () => {
    // Node 18 has WebCrypto only as require('node:crypto').webcrypto, not as a global.
    const web = runtime === 'node 18' ? 'no WebCrypto here, as it says' : VECTOR_COUNT;
    for (const [file, module] of [
      ['receiver-check.mjs', 'esm'],
      ['receiver-check.cjs', 'cjs'],
    ]) {
      const { stdout } = await ok(command, [...args, file, 'signatures.json'], receiverApp, {
        DENO_NO_UPDATE_CHECK: '1',
      });
      assert.deepEqual(JSON.parse(stdout), checkLine(module, web), `${runtime} ${file}`);
    }
  });
}

test('TypeScript files that import the receiver type-check with the published .d.ts (ES modules and CommonJS)', async () => {
  writeFileSync(
    join(receiverApp, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        lib: ['ES2022', 'DOM'],
        types: ['node'],
        // the consumer's @types/node; this project has no node_modules/@types of its own
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['receiver-types.mts', 'receiver-types.cts'],
    }),
  );
  await ok(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], receiverApp);
  // The check can fail: a wrong type is reported.
  writeFileSync(
    join(receiverApp, 'wrong.mts'),
    `import { verifySignature } from 'smsgate-receiver';\nverifySignature(1);\n`,
  );
  const wrong = await run(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--module', 'nodenext', 'wrong.mts'],
    receiverApp,
  );
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stdout, /wrong\.mts.*error TS2554/);
});

test('smsgate installs from its tarball, offline, with no engine warning and no build tools', async () => {
  app = join(work, 'app');
  mkdirSync(app);
  const tarballs = [packed['smsgate-receiver'], packed.smsgate];
  for (const t of tarballs) copyFileSync(join(work, t.file), join(app, t.file));
  const lock = consumerLock(join(ROOT, 'package-lock.json'), 'app', tarballs) as {
    packages: Record<string, object>;
  };
  // npm applies `overrides` in the root project only: a project that wants the tree smsgate is
  // tested with (no EBADENGINE on Node 20) copies them, as the README says.
  const { overrides } = packed.smsgate.manifest as { overrides?: object };
  assert.ok(overrides, 'smsgate pins the dependencies that need Node 22');
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, ...lock.packages[''], overrides }),
  );
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));

  // better-sqlite3's install script finds a prebuilt binary in this directory instead of compiling
  // one for minutes: the checkout's own, built from the same version for this Node's ABI.
  const prebuilds = join(work, 'prebuilds');
  mkdirSync(prebuilds);
  const sqliteVersion = JSON.parse(
    readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8'),
  ).version;
  await ok(
    'tar',
    [
      '-czf',
      join(
        prebuilds,
        `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`,
      ),
      'build/Release/better_sqlite3.node',
    ],
    join(ROOT, 'node_modules/better-sqlite3'),
  );
  const install = await ok('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app, {
    npm_config_better_sqlite3_local_prebuilds: prebuilds,
  });
  assert.doesNotMatch(install.stdout + install.stderr, /EBADENGINE/);
  assert.ok(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')));
  assert.ok(!existsSync(join(app, 'node_modules/better-sqlite3/build/Release/obj.target')), 'used the prebuilt binary');
  for (const tool of ['tsx', 'typescript', 'esbuild', 'prettier']) {
    assert.ok(!existsSync(join(app, 'node_modules', tool)), `${tool} is not installed`);
  }
});

test('installed: --version, --help for every command, and a wrong flag exits 2 with the usage', async () => {
  const bin = join(app, 'node_modules/.bin/smsgate');
  await checkCliContract((args) => run(bin, args, app), packed.smsgate.manifest.version);
});

test('installed: smsgate/receiver re-exports the SDK, at run time and in types', async () => {
  const script = `import { verifySignature } from 'smsgate/receiver';
    import * as sdk from 'smsgate-receiver';
    const { vectors } = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(${JSON.stringify(VECTORS)}, 'utf8')));
    const v = vectors[0];
    console.log(verifySignature === sdk.verifySignature, verifySignature(v.key, v.body, v.timestamp, v.signature, { now: v.timestamp * 1000 }).ok);`;
  const { stdout } = await ok(process.execPath, ['--input-type=module', '-e', script], app);
  assert.equal(stdout.trim(), 'true true');

  copyFileSync(join(FIXTURES, 'smsgate-types.mts'), join(app, 'smsgate-types.mts'));
  await ok(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--typeRoots',
      join(ROOT, 'node_modules/@types'),
      '--types',
      'node',
      'smsgate-types.mts',
    ],
    app,
  );
});

/** `npx smsgate <args>` in the project; resolves with its ready line once it prints one. */
async function npxSmsgate(args: string[]) {
  const child = spawn('npx', ['smsgate', ...args], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const exited = new Promise((resolve) => child.on('exit', resolve));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 60 s:\n${lines.join('\n')}`)), 60_000);
    void exited.then(() => reject(new Error(`npx smsgate ${args[0]} exited:\n${lines.join('\n')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('ready '.length)));
      }
    });
  }).catch((error) => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // it has exited already
    }
    throw error;
  });
  return {
    ready,
    async stop() {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

test('installed: npx smsgate device prints its ready line and serves /health, the dashboard and /docs', async () => {
  const device = await npxSmsgate(['device', '--port', '0', '--data-dir', join(work, 'device-data')]);
  try {
    const health = await fetch(`${device.ready.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'pass');
    const auth = { authorization: basic(device.ready.username, device.ready.password) };
    const page = await fetch(`${device.ready.url}/`, { headers: auth });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const preact = await fetch(`${device.ready.url}/ui/preact.mjs`, { headers: auth });
    assert.equal(preact.status, 200, 'the dashboard finds preact in the installed tree');
    const docs = await fetch(`${device.ready.url}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  } finally {
    await device.stop();
  }
});

test('installed: npx smsgate up prints its ready line; server and device answer /health', async () => {
  const up = await npxSmsgate(['up', '--port', '0', '--device-port', '0', '--data-dir', join(work, 'up-data')]);
  try {
    const server = await fetch(`${new URL(up.ready.thirdPartyUrl).origin}/health`);
    assert.equal(server.status, 200);
    const device = await fetch(`${up.ready.deviceUrl}/health`);
    assert.equal(device.status, 200);
  } finally {
    await up.stop();
  }
});
