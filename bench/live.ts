/**
 * Benchmark 8, live throughput: deliveries while events keep arriving.
 *
 * Device: `smsgate device` in a process of its own, started as the README starts it, its log on
 * stderr (redirected to a file, as a service manager would), compiled as the installed package runs
 * it (bench/lib/compiled.ts): under tsx a checkout also carries tsx's loader and source maps. 20 webhooks point at one receiver
 * process; SMS are posted to `/sim/v1/incoming`, LIVE_CONCURRENCY at a time, while the device
 * delivers. The figure is deliveries / (first POST → last delivery at the receiver).
 * Baseline: a bare undici client posting the very same bodies (read back from the device's file)
 * with the same headers to the same receiver, with as many requests in flight as the device may
 * have at one receiver (16, half of its 32 slots).
 * Device and baseline alternate over ROUNDS rounds, each device round between two baseline runs
 * and compared with their geometric mean; the ratio is the median of the round ratios.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { Agent, Pool } from 'undici';
import { compiled } from './lib/compiled.ts';
import { bareSignedPosts, fmt, log, median, now, sleep, startReceiver, summary } from './lib/harness.ts';

const SMS = Number(process.env.BENCH_SMS ?? 500);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 20);
const LIVE_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** what the device may have in flight to one receiver: half of its 32 slots */
const BARE_CONCURRENCY = 16;
const TARGET = 0.5;
const PASSWORD = 'bench-live-password';
const perRound = SMS * WEBHOOKS;
/** BENCH_DEVICE_PROF=DIR: the device writes a .cpuprofile of its whole life there when it stops */
const PROFILE_DIR = process.env.BENCH_DEVICE_PROF;

const receiver = await startReceiver();
const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-live-'));
const logFd = openSync(join(dir, 'device.log'), 'a');
// what `bin/smsgate.js` runs in an installed package: the compiled CLI
const bin = compiled('src/cli/main.ts');
const device = spawn(
  process.execPath,
  [
    ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    bin,
    'device',
    '--data-dir',
    join(dir, 'data'),
    '--port',
    '0',
    '--password',
    PASSWORD,
  ],
  { stdio: ['ignore', 'pipe', logFd] },
);
const deviceUrl = await new Promise<string>((resolve, reject) => {
  createInterface({ input: device.stdout! }).on('line', (line) => {
    if (line.startsWith('ready ')) resolve(JSON.parse(line.slice(6)).url);
  });
  device.once('exit', (code) => reject(new Error(`the device exited (${code}); its log: ${join(dir, 'device.log')}`)));
});
const authorization = 'Basic ' + Buffer.from(`sms:${PASSWORD}`).toString('base64');
const api = new Pool(deviceUrl, { connections: LIVE_CONCURRENCY });
const bareAgent = new Agent({ keepAliveTimeout: 10_000 });

async function callDevice(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const response = await api.request({
    method,
    path,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function waitForCount(target: number, timeoutMs = 120_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while ((await receiver.count()) < target) {
    if (now() > deadline) throw new Error(`the receiver got ${await receiver.count()} of ${target} deliveries`);
    await sleep(2);
  }
}

/**
 * The device process's CPU time so far, µs (utime + stime from /proc): far less sensitive to the
 * neighbours on a shared machine than the wall-clock rates are.
 */
function deviceCpuUs(): number {
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = readFileSync(`/proc/${device.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
}
/** USER_HZ: Linux reports the times in /proc in 1/100 s on every architecture it runs on */
const CLOCK_TICKS = 100;

/** Post `count` incoming SMS, LIVE_CONCURRENCY at a time, and time them until every delivery arrived. */
async function liveRun(
  count: number,
): Promise<{ rate: number; intake: number; cpuUs: number; duringIntake: number; afterIntake: number }> {
  await receiver.reset();
  let next = 0;
  const cpuBefore = deviceCpuUs();
  const started = now();
  await Promise.all(
    Array.from({ length: LIVE_CONCURRENCY }, async () => {
      while (next < count) {
        const n = next++;
        await callDevice('POST', '/sim/v1/incoming', { from: '+15550000000', text: `live bench ${n}`, simNumber: 1 });
      }
    }),
  );
  const intakeEnded = now();
  // How the deliveries went while SMS kept arriving, and after: the two phases compete differently.
  const deliveredDuringIntake = await receiver.count();
  await waitForCount(count * WEBHOOKS);
  const ended = now();
  return {
    rate: (count * WEBHOOKS) / ((ended - started) / 1000),
    intake: count / ((intakeEnded - started) / 1000),
    // the intake of the SMS included: what the device spends in all for each delivery
    cpuUs: (deviceCpuUs() - cpuBefore) / (count * WEBHOOKS),
    duringIntake: deliveredDuringIntake / ((intakeEnded - started) / 1000),
    afterIntake: (count * WEBHOOKS - deliveredDuringIntake) / ((ended - intakeEnded) / 1000),
  };
}

/** The bodies the device sent last, read from its file (WAL: a reader beside the writer). */
function lastBodies(limit: number): string[] {
  const db = new Database(join(dir, 'data', 'device.db'), { readonly: true });
  try {
    return db
      .prepare(`SELECT body FROM (SELECT seq, body FROM deliveries ORDER BY seq DESC LIMIT ?) ORDER BY seq`)
      .pluck()
      .all(limit) as string[];
  } finally {
    db.close();
  }
}

/** The bare client's rate, and its CPU per request (this process's, the signatures made beforehand). */
async function bareRun(bodies: string[], signingKey: string): Promise<{ rate: number; cpuUs: number }> {
  await receiver.reset();
  return bareSignedPosts(`${receiver.url}/hook/bare`, bodies, {
    signingKey,
    concurrency: BARE_CONCURRENCY,
    dispatcher: bareAgent,
  });
}

try {
  for (let i = 0; i < WEBHOOKS; i++) {
    await callDevice('POST', '/webhooks', { url: `${receiver.url}/hook/${i}`, event: 'sms:received' });
  }
  const signingKey = (await callDevice('GET', '/settings')).webhooks.signing_key as string;
  // Warm-up: JIT, sockets, SQLite pages.
  await liveRun(Math.min(100, SMS));
  await bareRun(lastBodies(2_000), signingKey);

  const rounds: { device: number; bare: number; intake: number; cpuUs: number }[] = [];
  // Each device round is measured between two bare runs, and compared with their geometric mean:
  // the machine's speed drifts (the bare client's CPU per request has moved 50-95 µs within one
  // run), and a change that falls between a round and its one baseline skewed that pair.
  let bareBefore = await bareRun(lastBodies(perRound), signingKey);
  for (let round = 0; round < ROUNDS; round++) {
    const live = await liveRun(SMS);
    const bareAfter = await bareRun(lastBodies(perRound), signingKey);
    const bare = Math.sqrt(bareBefore.rate * bareAfter.rate);
    rounds.push({ device: live.rate, bare, intake: live.intake, cpuUs: live.cpuUs });
    log(
      `round ${round + 1}: ${SMS} SMS × ${WEBHOOKS} webhooks, device ${fmt(live.rate)} deliveries/s ` +
        `(${fmt(live.cpuUs)} µs device CPU each; intake ${fmt(live.intake)} SMS/s; ${fmt(live.duringIntake)}/s while ` +
        `SMS arrived, ${fmt(live.afterIntake)}/s after), bare undici ${fmt(bareBefore.rate)}/s before and ` +
        `${fmt(bareAfter.rate)}/s after (${fmt(bareBefore.cpuUs)} and ${fmt(bareAfter.cpuUs)} µs CPU each), ` +
        `ratio ${fmt(live.rate / bare)}`,
    );
    bareBefore = bareAfter;
  }
  log(`device CPU per delivery, the SMS intake included (median): ${fmt(median(rounds.map((r) => r.cpuUs)))} µs`);
  const ratio = median(rounds.map((r) => r.device / r.bare));
  summary({
    name: 'live',
    figure: `${fmt(median(rounds.map((r) => r.device)))} deliveries/s while ${SMS} SMS arrive ${LIVE_CONCURRENCY} at a time`,
    baseline: `${fmt(median(rounds.map((r) => r.bare)))} req/s (bare undici, same bodies, concurrency ${BARE_CONCURRENCY})`,
    ratio,
    target: `>= ${TARGET}x (median of ${ROUNDS} rounds, each against the baseline runs either side)`,
    pass: ratio >= TARGET,
  });
} finally {
  device.kill('SIGTERM');
  await new Promise((resolve) => device.once('exit', resolve));
  await api.close();
  await bareAgent.close();
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
}
