/**
 * `npm run bench`: every bench/*.ts in turn, each in a child process of its own, so that one
 * benchmark's heap, sockets and timers never colour the next. Each prints one `BENCH ...` summary
 * line on stdout (details on stderr) and exits non-zero on FAIL. Each starts once the machine is
 * quiet (waitForQuiet). This prints the machine, then the
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

/** The machine's CPU counters since boot, all cores: [busy, total] jiffies. */
function cpuTimes(): [number, number] {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, n) => sum + n, 0);
  // idle and iowait are the time nothing ran
  return [total - fields[3] - (fields[4] ?? 0), total];
}

/**
 * Waits until the machine has been quiet (under QUIET_BUSY of its CPU busy) for QUIET_SECONDS in a
 * row, at most QUIET_MAX_MS. What one benchmark leaves behind (PostgreSQL writing out 10,000
 * devices after fan-out, a child's sockets closing) would otherwise land on the next one's first
 * rounds. Returns what it waited and the busy share of the last second.
 */
const QUIET_BUSY = 0.1;
const QUIET_SECONDS = 3;
const QUIET_MAX_MS = 90_000;
async function waitForQuiet(): Promise<{ waitedMs: number; busy: number }> {
  const started = Date.now();
  let quietSeconds = 0;
  let busy = 1;
  let [busyBefore, totalBefore] = cpuTimes();
  while (quietSeconds < QUIET_SECONDS && Date.now() - started < QUIET_MAX_MS) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [busyNow, totalNow] = cpuTimes();
    busy = (busyNow - busyBefore) / Math.max(1, totalNow - totalBefore);
    [busyBefore, totalBefore] = [busyNow, totalNow];
    quietSeconds = busy < QUIET_BUSY ? quietSeconds + 1 : 0;
  }
  return { waitedMs: Date.now() - started, busy };
}

const results: { file: string; summary: string | undefined; code: number | string; seconds: number }[] = [];
for (const file of files) {
  const quiet = await waitForQuiet();
  // The load average says how much the neighbours were taking when this benchmark started.
  console.log(
    `# ${file} (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; waited ${(quiet.waitedMs / 1000).toFixed(0)} s for a quiet machine, ` +
      `${(quiet.busy * 100).toFixed(0)}% busy in the last second)`,
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
