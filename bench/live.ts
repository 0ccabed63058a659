/**
 * Benchmark 8, live throughput: deliveries while events keep arriving.
 *
 * Device: `smsgate device` in a process of its own, started as the README starts it, its log on
 * stderr (redirected to a file, as a service manager would). 20 webhooks point at one receiver
 * process; SMS are posted to `/sim/v1/incoming`, LIVE_CONCURRENCY at a time, while the device
 * delivers. The figure is deliveries / (first POST → last delivery at the receiver).
 * Baseline: a bare undici client posting the very same bodies (read back from the device's file)
 * with the same headers to the same receiver, with as many requests in flight as the device may
 * have at one receiver (16, half of its 32 slots).
 * Device and baseline alternate over ROUNDS rounds; the ratio is the median of the round ratios.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Agent, Pool } from 'undici';
import { bareSignedPosts, fmt, log, median, now, sleep, startReceiver, summary } from './lib/harness.ts';

const SMS = Number(process.env.BENCH_SMS ?? 500);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 20);
const LIVE_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** what the device may have in flight to one receiver: half of its 32 slots */
const BARE_CONCURRENCY = 16;
const TARGET = 0.5;
const PASSWORD = 'bench-live-password';
const perRound = SMS * WEBHOOKS;

const receiver = await startReceiver();
const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-live-'));
const logFd = openSync(join(dir, 'device.log'), 'a');
const bin = fileURLToPath(new URL('../bin/smsgate.js', import.meta.url));
const device = spawn(
  process.execPath,
  [bin, 'device', '--data-dir', join(dir, 'data'), '--port', '0', '--password', PASSWORD],
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

/** Post `count` incoming SMS, LIVE_CONCURRENCY at a time, and time them until every delivery arrived. */
async function liveRun(count: number): Promise<{ rate: number; intake: number }> {
  await receiver.reset();
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: LIVE_CONCURRENCY }, async () => {
      while (next < count) {
        const n = next++;
        await callDevice('POST', '/sim/v1/incoming', { from: '+15550000000', text: `live bench ${n}`, simNumber: 1 });
      }
    }),
  );
  const intake = count / ((now() - started) / 1000);
  await waitForCount(count * WEBHOOKS);
  return { rate: (count * WEBHOOKS) / ((now() - started) / 1000), intake };
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

async function bareRun(bodies: string[], signingKey: string): Promise<number> {
  await receiver.reset();
  const { rate } = await bareSignedPosts(`${receiver.url}/hook/bare`, bodies, {
    signingKey,
    concurrency: BARE_CONCURRENCY,
    dispatcher: bareAgent,
  });
  return rate;
}

try {
  for (let i = 0; i < WEBHOOKS; i++) {
    await callDevice('POST', '/webhooks', { url: `${receiver.url}/hook/${i}`, event: 'sms:received' });
  }
  const signingKey = (await callDevice('GET', '/settings')).webhooks.signing_key as string;
  // Warm-up: JIT, sockets, SQLite pages.
  await liveRun(Math.min(100, SMS));
  await bareRun(lastBodies(2_000), signingKey);

  const rounds: { device: number; bare: number; intake: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const live = await liveRun(SMS);
    const bare = await bareRun(lastBodies(perRound), signingKey);
    rounds.push({ device: live.rate, bare, intake: live.intake });
    log(
      `round ${round + 1}: ${SMS} SMS × ${WEBHOOKS} webhooks, device ${fmt(live.rate)} deliveries/s ` +
        `(intake ${fmt(live.intake)} SMS/s), bare undici ${fmt(bare)}/s, ratio ${fmt(live.rate / bare)}`,
    );
  }
  const ratio = median(rounds.map((r) => r.device / r.bare));
  summary({
    name: 'live',
    figure: `${fmt(median(rounds.map((r) => r.device)))} deliveries/s while ${SMS} SMS arrive ${LIVE_CONCURRENCY} at a time`,
    baseline: `${fmt(median(rounds.map((r) => r.bare)))} req/s (bare undici, same bodies, concurrency ${BARE_CONCURRENCY})`,
    ratio,
    target: `>= ${TARGET}x (median of ${ROUNDS} paired rounds)`,
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
