/**
 * Soak run: SOAK_SECONDS (default 600) at SOAK_RATE (default 200)
 * sms:received events/s into a device (child process, bench/soak/device.ts, open-loop carrier),
 * delivering to a receiver process (bench/soak/receiver.ts) that fails SOAK_FAIL_RATE (default
 * 30%) of all attempts at random with 500. The clock is scaled (SMSGATE_TIME_SCALE, default
 * 0.01: the 10 s first retry becomes 100 ms) so that retries complete within the run. Bounded:
 * the dispatcher's concurrency bound (default 32), the open loop's fixed rate, and a bounded
 * drain (SOAK_DRAIN_SECONDS, default 300) after the last event.
 *
 * At the end:
 * - nothing lost: every delivery id the device created was answered 200 by the receiver at
 *   least once (ids compared one by one), or is still queued with retries left (a delivery that
 *   failed many times in a row at random and waits out its backoff; listed), and none failed;
 * - first-attempt latency (event due time → the receiver has the first attempt's body, clocks
 *   aligned over IPC) p99 <= 25 ms, the latency benchmark's target;
 * - memory flat: every 5 s the device's RSS (from /proc) and its live memory: the JS heap in use
 *   right after the last full collection plus everything outside the JS heap (RSS - heapTotal:
 *   SQLite, buffers, code, the checkpoint worker). The RSS also holds the room V8 keeps in its heap,
 *   which it grows and shrinks by tens of MB on its own schedule, so the RSS slope is reported but a
 *   leak is judged on live memory: its least-squares slope in MB/min over the second half of the
 *   load (the first minutes hold the start-up growth) must be <= 1 MB/min. The baseline is the RSS
 *   at the end of the first minute; the ratio is the final RSS over it.
 *
 *   npm run soak                    # 10 minutes
 *   SOAK_SECONDS=60 npm run soak    # a short one
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, forkIpc, log, MB, measureClockOffset, now, percentile, sleep, summary } from '../lib/harness.ts';
import { rssOf } from '../server-api.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 200);
const FAIL_RATE = Number(process.env.SOAK_FAIL_RATE ?? 0.3);
const TIME_SCALE = Number(process.env.SMSGATE_TIME_SCALE ?? 0.01);
const DRAIN_SECONDS = Number(process.env.SOAK_DRAIN_SECONDS ?? 300);
const WARMUP_SECONDS = Math.min(60, SECONDS / 5);
const SAMPLE_MS = 5_000;
const TARGET_P99_MS = 25;
const TARGET_SLOPE_MB_PER_MIN = 1;

interface Child {
  child: ChildProcess;
  ready: any;
  ask<T = any>(type: string, body?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

async function start(file: string, env: Record<string, string>): Promise<Child> {
  const { child, ready, ask, exited } = await forkIpc(fileURLToPath(new URL(file, import.meta.url)), env, file);
  return {
    child,
    ready,
    ask,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        if (file === './device.ts') await Promise.race([ask('stop'), exited]);
      } catch {
        // killed below
      }
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return num / den;
}

const children: Child[] = [];
let sampler: NodeJS.Timeout | undefined;
try {
  const receiver = await start('./receiver.ts', { SOAK_FAIL_RATE: String(FAIL_RATE) });
  children.push(receiver);
  const device = await start('./device.ts', { SOAK_DEVICE_OPTIONS: JSON.stringify({ timeScale: TIME_SCALE }) });
  children.push(device);
  const url = `http://127.0.0.1:${receiver.ready.port}/hook`;
  await device.ask('register', { url });
  log(
    `${SECONDS} s at ${RATE} events/s, receiver failing ${FAIL_RATE * 100}% of attempts at random, time scale ${TIME_SCALE} (first retry after ${10_000 * TIME_SCALE} ms), drain bounded at ${DRAIN_SECONDS} s`,
  );

  // RSS of the device process every SAMPLE_MS, from the start of the load to the end of the drain.
  const started = now();
  const samples: { x: number; y: number }[] = [];
  const liveSamples: { x: number; y: number }[] = [];
  // The device's delivery ids and due times, taken from it as the run goes (it keeps none).
  const ids: string[] = [];
  const due: number[] = [];
  const takeRecords = async () => {
    const taken = await device.ask<{ ids: string[]; due: number[] }>('records');
    for (let i = 0; i < taken.ids.length; i++) {
      ids.push(taken.ids[i]);
      due.push(taken.due[i]);
    }
  };
  const sample = async () => {
    const x = (now() - started) / 60_000;
    samples.push({ x, y: rssOf(device.child.pid!) / MB });
    await takeRecords();
    const m = await device.ask<NodeJS.MemoryUsage & { liveHeap: number }>('memory').catch(() => undefined);
    if (!m) return;
    if (Number.isFinite(m.liveHeap)) liveSamples.push({ x, y: (m.liveHeap + m.rss - m.heapTotal) / MB });
    if (samples.length % 12 === 0) {
      // Where the memory is: the JS heap, buffers outside it, and the rest (native: SQLite's page
      // cache, the checkpoint worker, code), to tell heap settling from a native rise.
      log(
        `${fmt(x * 60)} s: device RSS ${fmt(m.rss / MB)} MB (JS heap ${fmt(m.heapUsed / MB)} used of ${fmt(m.heapTotal / MB)}, ` +
          `${fmt(m.liveHeap / MB)} live after the last full collection; external ${fmt(m.external / MB)}, the rest ${fmt((m.rss - m.heapTotal - m.external) / MB)} MB)`,
      );
    }
  };
  await sample();
  sampler = setInterval(() => void sample(), SAMPLE_MS);

  const run = await device.ask<{
    events: number;
    worstLag: number;
    loopDelay: { p50: number; p99: number; max: number };
  }>('run', { rate: RATE, seconds: SECONDS });
  const loadEnded = now();
  log(
    `emitted ${run.events} events in ${fmt((loadEnded - started) / 1000)} s (worst emission lag ${fmt(run.worstLag)} ms); device event-loop delay p50 ${fmt(run.loopDelay.p50)} ms, p99 ${fmt(run.loopDelay.p99)} ms, max ${fmt(run.loopDelay.max)} ms`,
  );

  // Drain: bounded wait until no delivery is pending or sending.
  const drainDeadline = now() + DRAIN_SECONDS * 1000;
  let unfinished = Infinity;
  while (now() < drainDeadline) {
    unfinished = (await device.ask<{ count: number }>('unfinished')).count;
    if (unfinished === 0) break;
    await sleep(250);
  }
  const drained = now();
  clearInterval(sampler);
  await sample();
  log(`drain after the last event: ${fmt((drained - loadEnded) / 1000)} s, ${unfinished} deliveries still unfinished`);

  // Compare ids: every delivery the device created must have been answered 200 at least once.
  const offset = await measureClockOffset(receiver.ask);
  await takeRecords();
  const { first, succeeded } = await receiver.ask<{ first: [string, number][]; succeeded: string[] }>('records');
  const stats = await receiver.ask<{ attempts: number; failures: number; duplicates: number }>('stats');
  const { states, attempts } = await device.ask<{ states: Record<string, number>; attempts: number }>('states');
  const ok = new Set(succeeded);
  const firstAt = new Map(first);
  // Not answered 200 yet but still in the queue with retries left is not lost: it is a delivery
  // that failed many times in a row at random and waits out its backoff (at a 30% failure rate
  // and 240,000 deliveries, ~1.4 are expected to fail 10 times in a row; the 11th try then comes
  // ~100 s later on this clock and the 12th ~200 s after that).
  const { rows: stragglers } = await device.ask<{
    rows: { id: string; attempts: number; dueInMs: number; lastError: string | null }[];
  }>('stragglers');
  const stillRetrying = new Set(stragglers.filter((r) => r.attempts <= 14).map((r) => r.id));
  for (const r of stragglers)
    log(
      `still queued: ${r.id} after ${r.attempts} failed attempts in a row (last: ${r.lastError}), next attempt in ${fmt(r.dueInMs / 1000)} s`,
    );
  const lost = ids.filter((id) => !ok.has(id) && !stillRetrying.has(id));
  const latencies: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const at = firstAt.get(ids[i]);
    if (at !== undefined) latencies.push(at - offset - due[i]);
  }
  latencies.sort((a, b) => a - b);
  log(`device deliveries by state: ${JSON.stringify(states)}, ${attempts} attempts recorded`);
  log(
    `receiver: ${stats.attempts} attempts, ${stats.failures} answered 500 (${fmt((stats.failures / stats.attempts) * 100)}%), ${ok.size} ids answered 200, ${stats.duplicates} repeat deliveries of an id already answered 200`,
  );
  log(
    `lost (created by the device, never answered 200): ${lost.length}${lost.length ? ` e.g. ${lost.slice(0, 5).join(', ')}` : ''}`,
  );
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  log(
    `first-attempt latency over ${latencies.length} deliveries: p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, p99.9 ${fmt(percentile(latencies, 99.9))} ms, max ${fmt(latencies[latencies.length - 1])} ms`,
  );

  const underLoad = (s: { x: number }) => s.x >= WARMUP_SECONDS / 60 && s.x <= (loadEnded - started) / 60_000;
  const warm = samples.filter(underLoad);
  const warmSlope = slope(warm);
  // A leak is steady growth; the first minutes hold the start-up growth.
  const steady = warm.slice(Math.floor(warm.length / 2));
  const steadySlope = slope(steady);
  const liveWarm = liveSamples.filter(underLoad);
  const liveSteady = liveWarm.slice(Math.floor(liveWarm.length / 2));
  const liveSlope = slope(liveSteady);
  const wholeSlope = slope(samples);
  const baseRss = warm[0]?.y ?? samples[0].y;
  const endRss = samples[samples.length - 1].y;
  const peakRss = Math.max(...samples.map((s) => s.y));
  log(
    `device RSS: start ${fmt(samples[0].y)} MB, after ${WARMUP_SECONDS} s ${fmt(baseRss)} MB, peak ${fmt(peakRss)} MB, end ${fmt(endRss)} MB; slope ${fmt(warmSlope)} MB/min after warm-up under load (${warm.length} samples), ${fmt(wholeSlope)} MB/min over the whole run`,
  );
  log(
    `RSS slope over the second half of the load (steady state, ${steady.length} samples): ${fmt(steadySlope)} MB/min`,
  );
  log(
    `live memory (JS heap after the last full collection + RSS outside the JS heap): ${fmt(liveWarm[0]?.y ?? NaN)} MB after ${WARMUP_SECONDS} s, ${fmt(liveWarm[liveWarm.length - 1]?.y ?? NaN)} MB at the end of the load; slope over the second half ${fmt(liveSlope)} MB/min (${liveSteady.length} samples)`,
  );
  log(`RSS samples (MB): ${samples.map((s) => fmt(s.y, 4)).join(' ')}`);
  log(`live memory samples (MB): ${liveSamples.map((s) => fmt(s.y, 4)).join(' ')}`);

  const pass =
    lost.length === 0 &&
    unfinished === stillRetrying.size &&
    latencies.length === ids.length &&
    p99 <= TARGET_P99_MS &&
    liveSlope <= TARGET_SLOPE_MB_PER_MIN;
  summary({
    name: 'soak',
    figure: `${ok.size}/${ids.length} delivered, ${stillRetrying.size} still retrying, ${lost.length} lost over ${SECONDS} s at ${RATE}/s with ${FAIL_RATE * 100}% failing, first-attempt p50 ${fmt(p50)} ms p99 ${fmt(p99)} ms, live memory slope ${fmt(liveSlope)} MB/min in the second half; RSS slope ${fmt(steadySlope)} MB/min there (${fmt(warmSlope)} after ${WARMUP_SECONDS} s; peak ${fmt(peakRss)} MB)`,
    baseline: `device RSS ${fmt(baseRss)} MB after the first ${WARMUP_SECONDS} s`,
    ratio: endRss / baseRss,
    target: `nothing lost (a delivery still in its retry schedule is reported, not lost), first-attempt p99 <= ${TARGET_P99_MS} ms, live memory slope <= ${TARGET_SLOPE_MB_PER_MIN} MB/min in the second half (ratio = end RSS / baseline)`,
    pass,
  });
} finally {
  clearInterval(sampler);
  for (const c of children.reverse()) await c.stop();
}
