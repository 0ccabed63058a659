import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/common.ts';
import { SMSGATE_BIN } from '../helpers/process.ts';

/**
 * The documentation's runnable snippets, run as a reader would run them. A fence opened with
 * ```sh runnable (README.md and docs/*.md) is runnable; its commands run in order, one bash script
 * per file (so a later snippet sees what an earlier one started or set), in a fresh empty directory
 * (a fresh ./data), with the smsgate of this checkout as `npx smsgate` and `smsgate`. What the check
 * changes, and nothing else: the ports 3000, 8080 and 9000 become free ones (in the text, and as the
 * defaults of `up`, `server`, `device` and `listen`, through their variables), and a command that ends
 * with `&` runs in the background and the next one waits for its `ready` line. Everything started is
 * stopped at the end; a command that fails fails the test, named with its file and line.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MARKER = /^```sh runnable\s*$/;
const DOCUMENTED_PORTS = [3000, 8080, 9000];
const PER_FILE_TIMEOUT_MS = 90_000;

interface Step {
  file: string;
  line: number;
  command: string;
  background: boolean;
}

/** The commands of a file's runnable fences: a line continued with `\` is one command; comments dropped. */
export function runnableSteps(file: string, text: string): Step[] {
  const steps: Step[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!MARKER.test(lines[i])) continue;
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) {
      const start = i;
      let command = lines[i];
      while (command.endsWith('\\') && i + 1 < lines.length)
        command = command.slice(0, -1).trimEnd() + ' ' + lines[++i].trim();
      command = withoutComment(command).trim();
      if (command === '') continue;
      const background = /(^|[^&])&$/.test(command);
      steps.push({ file, line: start + 1, command: background ? command.slice(0, -1).trim() : command, background });
    }
  }
  return steps;
}

/** A trailing `# comment` outside quotes. */
function withoutComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function documents(): { file: string; text: string }[] {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  return files.map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The bash script a file's steps become. */
function script(steps: Step[], ports: Map<number, number>, logDir: string): string {
  const lines = [
    'set -euo pipefail',
    // waits for the `ready {json}` line every long-running smsgate command prints
    `wait_ready() { for _ in $(seq 600); do grep -q '^ready ' "$1" && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.1; done; echo "never ready:"; cat "$1"; return 1; }`,
  ];
  steps.forEach((step, index) => {
    let command = step.command;
    for (const [documented, free] of ports)
      command = command.replace(new RegExp(`\\b${documented}\\b`, 'g'), String(free));
    lines.push(`echo ${quote(`${step.file}:${step.line}`)} > ${quote(join(logDir, 'current'))}`);
    if (step.background) {
      const log = join(logDir, `background-${index}.log`);
      lines.push(`( ${command} ) > ${quote(log)} 2>&1 &`, `wait_ready ${quote(log)} $!`);
    } else {
      lines.push(command);
    }
  });
  return lines.join('\n') + '\n';
}

interface Outcome {
  code: number | null;
  output: string;
  failedAt: string;
}

async function runFile(steps: Step[]): Promise<Outcome> {
  const work = tempDir('smsgate-docs-');
  try {
    const bin = join(work.path, '.bin');
    const logs = join(work.path, '.logs');
    mkdirSync(bin);
    mkdirSync(logs);
    // `smsgate` and `npx smsgate` are this checkout's, as `npm link` would make them
    writeFileSync(join(bin, 'smsgate'), `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(SMSGATE_BIN)} "$@"\n`);
    writeFileSync(
      join(bin, 'npx'),
      `#!/bin/sh\nif [ "$1" = smsgate ]; then shift; exec ${quote(join(bin, 'smsgate'))} "$@"; fi\necho "the docs check runs only npx smsgate, not npx $*" >&2; exit 1\n`,
    );
    chmodSync(join(bin, 'smsgate'), 0o755);
    chmodSync(join(bin, 'npx'), 0o755);
    const ports = new Map<number, number>();
    for (const port of DOCUMENTED_PORTS) {
      // a port just freed may be handed out again at once: each documented port gets a port of its own
      let free = await freePort();
      while ([...ports.values()].includes(free)) free = await freePort();
      ports.set(port, free);
    }
    const child = spawn('bash', ['-c', script(steps, ports, logs)], {
      cwd: work.path,
      // its own process group, so that everything it started in the background is stopped with it
      detached: true,
      env: {
        // a command that does not name its port listens on the free port that stands for its default
        SMSGATE_UP_PORT: String(ports.get(3000)),
        SMSGATE_SERVER_PORT: String(ports.get(3000)),
        SMSGATE_UP_DEVICE_PORT: String(ports.get(8080)),
        SMSGATE_DEVICE_PORT: String(ports.get(8080)),
        SMSGATE_LISTEN_PORT: String(ports.get(9000)),
        PATH: `${bin}:${process.env.PATH}`,
        HOME: work.path,
        SMSGATE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), PER_FILE_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // the group is gone already
    }
    let failedAt = '';
    try {
      failedAt = readFileSync(join(logs, 'current'), 'utf8').trim();
    } catch {
      // no step started
    }
    if (code !== 0) {
      for (const log of readdirSync(logs).filter((f) => f.startsWith('background-')))
        output += `\n--- ${log}\n${readFileSync(join(logs, log), 'utf8')}`;
    }
    // give the background processes their SIGTERM's time before the directory goes
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { code, output, failedAt };
  } finally {
    work.remove();
  }
}

test('the steps are read as documented: continuations joined, comments dropped, & marks the background', () => {
  const steps = runnableSteps(
    'x.md',
    [
      '```sh',
      'not runnable',
      '```',
      '```sh runnable',
      '# a comment',
      'a --b "c # d" \\',
      '  --e   # f',
      'g &',
      '```',
    ].join('\n'),
  );
  assert.deepEqual(
    steps.map((s) => [s.line, s.command, s.background]),
    [
      [6, 'a --b "c # d" --e', false],
      [8, 'g', true],
    ],
  );
});

const withSteps = documents()
  .map(({ file, text }) => ({ file, steps: runnableSteps(file, text) }))
  .filter((doc) => doc.steps.length > 0);

test('the documentation has runnable snippets', () => {
  const total = withSteps.reduce((n, doc) => n + doc.steps.length, 0);
  assert.ok(total >= 10, `${total} runnable steps`);
  console.log(
    `runnable documented steps: ${total} (${withSteps.map((d) => `${d.file} ${d.steps.length}`).join(', ')})`,
  );
});

for (const { file, steps } of withSteps) {
  test(
    `${file}: its ${steps.length} runnable steps run as written`,
    { timeout: PER_FILE_TIMEOUT_MS + 10_000 },
    async () => {
      const outcome = await runFile(steps);
      assert.equal(outcome.code, 0, `failed at ${outcome.failedAt}:\n${outcome.output}`);
    },
  );
}
