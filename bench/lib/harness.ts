/** Shared pieces of the benchmarks: the receiver process, a device on a temp dir, the summary line. */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request, type Dispatcher } from 'undici';
import { sign, unixSeconds } from '../../src/protocol/index.ts';
import type Database from 'better-sqlite3';
import { startDevice, type DeviceOptions, type RunningDevice } from '../../src/device/runtime.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { compiled } from './compiled.ts';

export const PASSWORD = 'bench-password';

/** Wall-clock ms with sub-ms resolution; the receiver process stamps arrivals the same way. */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ReceiverProcess {
  port: number;
  url: string;
  child: ChildProcess;
  count(): Promise<number>;
  records(): Promise<{ ids: string[]; arrivals: number[] }>;
  /** the records since the last drain (or reset), forgotten by the receiver once handed over */
  drain(): Promise<{ ids: string[]; arrivals: number[] }>;
  reset(): Promise<void>;
  /** receiver clock minus ours, from the IPC round trip with the smallest delay */
  clockOffset(samples?: number): Promise<number>;
  stop(): Promise<void>;
}

/** Fork bench/lib/receiver.ts as a separate process and wait until it listens. */
export async function startReceiver(
  options: { port?: number; record?: boolean | 'message'; failFirst?: number } = {},
): Promise<ReceiverProcess> {
  const { child, ready, ask, exited } = await forkIpc(
    fileURLToPath(new URL('./receiver.ts', import.meta.url)),
    {
      BENCH_RECEIVER_PORT: String(options.port ?? 0),
      BENCH_RECEIVER_RECORD: options.record === 'message' ? 'message' : options.record ? '1' : '0',
      BENCH_RECEIVER_FAIL: String(options.failFirst ?? 0),
    },
    'receiver',
  );
  const port = ready.port as number;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    count: async () => (await ask<{ count: number }>('count')).count,
    records: () => ask('records'),
    drain: () => ask('drain'),
    reset: async () => void (await ask('reset')),
    clockOffset: (samples) => measureClockOffset(ask, samples),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A child's clock minus ours, from the IPC round trip (`clock` → `{now}`) with the smallest delay:
 * the midpoint of that round trip is when the child read its clock.
 */
export async function measureClockOffset(ask: <T>(type: string) => Promise<T>, samples = 30): Promise<number> {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < samples; i++) {
    const sent = now();
    const { now: theirs } = await ask<{ now: number }>('clock');
    const back = now();
    if (back - sent < best.rtt) best = { rtt: back - sent, offset: theirs - (sent + back) / 2 };
  }
  return best.offset;
}

/**
 * Call `fire(i, dueAt)` for i = 0..count-1 on an open-loop schedule of `rate` per second (event i
 * due at t0 + i / rate whatever the callee did), checked by a 1 ms timer. Returns the worst lag
 * of an emission behind its due time, ms.
 */
export async function openLoop(count: number, rate: number, fire: (i: number, dueAt: number) => void): Promise<number> {
  const t0 = now() + 20;
  let next = 0;
  let worstLag = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = now();
      while (next < count && t0 + (next * 1000) / rate <= t) {
        const dueAt = t0 + (next * 1000) / rate;
        worstLag = Math.max(worstLag, t - dueAt);
        fire(next++, dueAt);
      }
      if (next === count) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  return worstLag;
}

export interface DeviceHost {
  child: ChildProcess;
  /** what the device host said when it was ready: its url, device id and, when linked, its server user */
  ready: { url: string; deviceId: string; server?: { login: string; password?: string } };
  /** send a command (see device-host.ts) and wait for its answer */
  call<T = any>(command: { type: string; [key: string]: unknown }): Promise<T>;
  stop(): Promise<void>;
}

export interface IpcChild {
  child: ChildProcess;
  /** the child's first message (rid 0), which says it is ready */
  ready: any;
  /** send `{type, ...body}` and wait for the answer with the same rid; `{error}` rejects */
  ask<T = any>(type: string, body?: Record<string, unknown>): Promise<T>;
  exited: Promise<void>;
}

/**
 * Fork a TypeScript file as a child driven over IPC: requests carry a `rid`, the child answers
 * with the same `rid`, and its first message (`rid: 0`) says it is ready.
 */
export async function forkIpc(
  file: string,
  env: Record<string, string>,
  label: string,
  execArgv: string[] = [],
  { typescript = true }: { typescript?: boolean } = {},
): Promise<IpcChild> {
  const child = fork(file, [], {
    execArgv: typescript ? [...execArgv, '--import', 'tsx'] : execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextRid = 1;
  const waiting = new Map<number, (body: any) => void>();
  child.on('message', (message: { rid: number }) => {
    waiting.get(message.rid)?.(message);
    waiting.delete(message.rid);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<any>((resolve, reject) => {
    waiting.set(0, resolve);
    void exited.then(() => reject(new Error(`${label} exited before it was ready`)));
  });
  const ask = <T>(type: string, body: Record<string, unknown> = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      const rid = nextRid++;
      waiting.set(rid, (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      child.send({ ...body, rid, type });
    });
  return { child, ready, ask, exited };
}

/** Fork bench/lib/device-host.ts: a device in a process of its own, driven over IPC. */
export async function startDeviceHost(options: Partial<DeviceOptions> = {}): Promise<DeviceHost> {
  // Compiled, as users run it: the memory it reports is the device's, not tsx's loader thread's too.
  const { child, ready, ask, exited } = await forkIpc(
    compiled('bench/lib/device-host.ts'),
    { BENCH_DEVICE_OPTIONS: JSON.stringify(options) },
    'device host',
    // BENCH_DEVICE_CPU_PROF=<dir>: a CPU profile of the device process, written when it exits
    process.env.BENCH_DEVICE_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_DEVICE_CPU_PROF] : [],
    { typescript: false },
  );
  const call = <T>(command: { type: string }): Promise<T> => ask<T>(command.type, command);
  return {
    child,
    ready,
    call,
    async stop() {
      if (child.exitCode === null) {
        await call({ type: 'stop' });
        child.disconnect();
      }
      await exited;
    },
  };
}

/** A loopback port nobody listens on right now (for a receiver that is "down" until later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface BenchDevice extends RunningDevice {
  dir: string;
  cleanup(): Promise<void>;
}

/**
 * A real device (SQLite file in a temp dir, Local API on a free port) in this process. It logs at
 * its default level (one line per attempt at info), like a service whose log goes to a file:
 * the cost of logging is measured, and stderr stays readable.
 */
export async function startBenchDevice(options: Partial<DeviceOptions> = {}): Promise<BenchDevice> {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-bench-'));
  // the product's logger, writing to a file instead of stderr
  const logger = createLogger({
    name: 'device',
    level: process.env.SMSGATE_LOG_LEVEL ?? 'info',
    file: join(dir, 'device.log'),
  });
  const device = await startDevice({ dataDir: dir, port: 0, password: PASSWORD, timeZone: 'UTC', logger, ...options });
  return Object.assign(device, {
    dir,
    async cleanup() {
      await device.stop({ graceMs: 2000 });
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** Register a Local webhook through the Local API, as a user would. */
export async function registerWebhook(device: RunningDevice, url: string, event = 'sms:received'): Promise<string> {
  const response = await fetch(`${device.url}/webhooks`, {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`sms:${PASSWORD}`).toString('base64'),
      'content-type': 'application/json',
    },
    body: JSON.stringify({ url, event }),
  });
  if (response.status !== 201)
    throw new Error(`registering the webhook failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Fixed significant digits, without trailing noise. */
export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  return Number(value.toPrecision(digits)).toString();
}

/** Detail lines go to stderr; stdout carries only the one summary line. */
export function log(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

/** Print the one summary line and set the exit code from it. */
export function summary(s: {
  name: string;
  figure: string;
  baseline: string;
  ratio: number;
  target: string;
  pass: boolean;
}): void {
  console.log(
    `BENCH ${s.name}: ${s.figure} | baseline ${s.baseline} | ratio ${fmt(s.ratio)}x | target ${s.target} | ${s.pass ? 'PASS' : 'FAIL'}`,
  );
  process.exitCode = s.pass ? 0 : 1;
}

/** Node options that load bench/lib/memory-probe.mjs, and the environment that says where it writes. */
export function memoryProbeOptions(file: string): { execArgv: string[]; env: Record<string, string> } {
  return {
    execArgv: ['--import', fileURLToPath(new URL('./memory-probe.mjs', import.meta.url))],
    env: { BENCH_MEMORY_PROBE_FILE: file },
  };
}

/**
 * What is alive in a child started with memoryProbeOptions(file): its process.memoryUsage() right
 * after full garbage collections.
 */
export async function probeLiveMemory(pid: number, file: string): Promise<NodeJS.MemoryUsage> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as NodeJS.MemoryUsage;
    } catch {
      // not written yet, or not all of it
    }
  }
  throw new Error(`process ${pid} did not answer the memory probe within 10 s`);
}

/** Sample this process's RSS every `everyMs` while work runs; returns the peak seen. */
export function rssSampler(everyMs = 100): { peak(): number; atPeak(): NodeJS.MemoryUsage; stop(): number } {
  // the whole breakdown at the highest RSS seen, to tell the V8 heap from SQLite's and other native memory
  let atPeak = process.memoryUsage();
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > atPeak.rss) atPeak = process.memoryUsage();
    return atPeak.rss;
  };
  const timer = setInterval(sample, everyMs);
  return {
    peak: sample,
    atPeak: () => (sample(), atPeak),
    stop() {
      clearInterval(timer);
      return sample();
    },
  };
}

export const MB = 1024 * 1024;

/**
 * With BENCH_PROFILE=<dir>, record a CPU profile of one measured phase only (node --cpu-prof
 * would also cover setup, ingest and the baseline). Open the file in Chrome DevTools.
 */
export async function profilePhase(label: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return async () => {};
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // The default 1 ms interval phase-locks with 1 ms timers (benchmark 2's emitter): most samples then
  // land while the loop waits, and the busy work is undercounted several times over.
  await session.post('Profiler.setSamplingInterval', { interval: 97 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${label}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * The baseline of the delivery benchmarks: a bare undici client POSTs `bodies` to `url` with
 * `concurrency` requests in flight, each signed as the device signs it. Its rate and its CPU per request.
 */
export async function bareSignedPosts(
  url: string,
  bodies: readonly string[],
  options: { signingKey: string; concurrency: number; dispatcher: Dispatcher },
): Promise<{ rate: number; cpuUs: number }> {
  const timestamp = String(unixSeconds(Date.now()));
  const requests = bodies.map((body) => ({
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'smsgate/bench',
      'x-timestamp': timestamp,
      'x-signature': sign(options.signingKey, body, timestamp),
    },
  }));
  let next = 0;
  const started = now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < requests.length) {
        const { body, headers } = requests[next++];
        const response = await request(url, { dispatcher: options.dispatcher, method: 'POST', headers, body });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`receiver answered ${response.statusCode}`);
      }
    }),
  );
  const rate = requests.length / ((now() - started) / 1000);
  const { user, system } = process.cpuUsage(cpu);
  return { rate, cpuUs: (user + system) / requests.length };
}

/** The middle value (the upper one of an even count). */
export const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * How many attempts a device's outbox holds: failed ones are rows of attempts, and a delivery's
 * successful attempt is kept on its own row (migration 0014).
 */
export function attemptCounter(db: Database.Database): () => number {
  const statement = db
    .prepare<[], number>(
      `SELECT (SELECT count(*) FROM attempts) + (SELECT count(*) FROM deliveries WHERE success_started_at IS NOT NULL)`,
    )
    .pluck();
  return () => statement.get()!;
}
