/**
 * `npm run bench`: every bench/*.ts in turn, each in a child process of its own, so that one
 * benchmark's heap, sockets and timers never colour the next. Each prints one `BENCH ...` summary
 * line on stdout (details on stderr) and exits non-zero on FAIL. This prints the machine, then the
 * summary lines again at the end, and exits non-zero if any benchmark failed or printed no summary.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const dir = fileURLToPath(new URL('.', import.meta.url));
// Benchmarks 1-4 first, in their numbered order; any other bench file (e.g. verify.ts) after them.
const ORDER = ['throughput.ts', 'latency.ts', 'backlog.ts', 'retry.ts'];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run-all.ts')
  .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
// A hung benchmark is killed and counted as a failure. Each file stays under 6 minutes, but for
// retention.ts, whose claim is about 10 minutes of load (about 21 with its baseline of the same length), and fanout.ts,
// which registers and connects 10,000 devices before it measures.
const PER_FILE_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 6 * 60_000);
const OWN_TIMEOUT_MS: Record<string, number> = { 'retention.ts': 28 * 60_000, 'fanout.ts': 12 * 60_000 };

const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown CPU';
console.log(`# ${new Date().toString()} | ${availableParallelism()} x ${cpu} | node ${process.version}`);

const results: { file: string; summary: string | undefined; code: number | string; seconds: number }[] = [];
for (const file of files) {
  // The load average says how much the neighbours were taking when this benchmark started.
  console.log(
    `# ${file} (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `${dir}${file}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let summary: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    console.log(line);
    if (line.startsWith('BENCH ')) summary = line;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(PER_FILE_TIMEOUT_MS, OWN_TIMEOUT_MS[file] ?? 0));
  const code = await new Promise<number | string>((resolve) =>
    child.on('exit', (c, signal) => resolve(c ?? signal ?? -1)),
  );
  clearTimeout(timer);
  results.push({ file, summary, code, seconds: (Date.now() - started) / 1000 });
}

console.log('\n# summary');
let failed = 0;
for (const r of results) {
  const ok = r.code === 0 && r.summary !== undefined && /\bPASS\s*$/.test(r.summary);
  if (!ok) failed++;
  console.log(r.summary ?? `BENCH ${r.file.replace(/\.ts$/, '')}: no summary line (exit ${r.code}) | FAIL`);
  if (r.code !== 0 && r.summary && /\bPASS\s*$/.test(r.summary))
    console.log(`  (${r.file} exited ${r.code} after a PASS line)`);
}
const total = results.reduce((sum, r) => sum + r.seconds, 0);
console.log(
  `# ${results.length} benchmarks, ${failed} failed, ${Math.round(total)} s (${results.map((r) => `${r.file} ${Math.round(r.seconds)} s`).join(', ')})`,
);
process.exitCode = failed > 0 ? 1 : 0;
