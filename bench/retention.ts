/**
 * Bounded growth under load: the retention purge keeps the device's file flat without costing
 * throughput or latency.
 *
 * A real device (startDevice, as bench/latency.ts starts it) takes sms:received events from an
 * open-loop carrier at RATE (1,000/s) for SECONDS (600), each delivered to a receiver process, with
 * a one-minute retention for everything the purge removes: finished deliveries and their attempts,
 * their events, received messages, the device's own log. The settings are in days, so the minute
 * is a scaled day: the device runs with timeScale = RETENTION_SECONDS / 86,400 (1/1440: the device's
 * SMSGATE_TIME_SCALE), and `webhooks.log_lifetime_days`, `messages.log_lifetime_days` and
 * `logs.lifetime_days` are 1. The purge then runs every second (its floor) and removes what is a
 * minute old. The same scale also shortens the device's other timers: an attempt's deadline is
 * 30 s × 1/1440 ≈ 21 ms, so an answer slower than that is retried (counted and reported below);
 * the baseline runs on the same scale, so both meet the same deadline.
 *
 * The file: device.db and its WAL, sampled every second; it must plateau, growing less than 5%
 * over the last 30% of the run (the last 3 of 10 minutes).
 * Baseline, in the same process: fresh devices on the same scale with nothing expiring within the
 * run (the three settings at 3650 days; messages kept), BASE_SECONDS in all (by default as long as
 * the run: the claim compares runs of the same length), in two halves, one before the run with
 * retention and one after it. These shared machines drift over twenty minutes (the same pair run
 * in either order differed by 30%), and a baseline on both sides of the run it is compared with
 * cancels a drift that is steady. Without retention the file only grows, so a baseline's first
 * minutes are its smallest and fastest: the p99 of the first half's first EARLY_SECONDS (180) is
 * reported too, the stricter figure. Throughput (deliveries that arrived per second, from the first
 * due time to the last arrival) and p99 (from an event's due time to the receiver's first arrival
 * of its delivery) must stay within 10% of the baseline's, both halves taken together.
 *
 * Run: `npx tsx bench/retention.ts` (about 21 minutes); shorter: BENCH_SECONDS=150
 * BENCH_RETENTION_SECONDS=30 (the baseline runs as long).
 */
import { statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import {
  fmt,
  log,
  now,
  openLoop,
  percentile,
  PASSWORD,
  registerWebhook,
  sleep,
  startBenchDevice,
  startReceiver,
  summary,
  MB,
  type BenchDevice,
} from './lib/harness.ts';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 600);
const RETENTION_SECONDS = Number(process.env.BENCH_RETENTION_SECONDS ?? 60);
const BASE_SECONDS = Number(process.env.BENCH_BASE_SECONDS ?? SECONDS);
/** the baseline's first minutes, reported as the stricter comparison */
const EARLY_SECONDS = 180;
/** p99 is also reported for each window of this length, to show where in the run the tail is */
const WINDOW_SECONDS = 60;
const WARMUP_SECONDS = 2;
const DAY_MS = 24 * 60 * 60 * 1000;
const TIME_SCALE = (RETENTION_SECONDS * 1000) / DAY_MS;
/** the file may grow at most this much over the last PLATEAU_SHARE of the run */
const PLATEAU_GROWTH = 0.05;
const PLATEAU_SHARE = 0.3;
/** throughput and p99 within this of the baseline's */
const TOLERANCE = 0.1;

interface RunResult {
  label: string;
  seconds: number;
  delivered: number;
  /** seconds from the first due time to the last arrival */
  activeSeconds: number;
  throughput: number;
  latencies: Float64Array;
  /** p99 of the events due in each WINDOW_SECONDS of the run, in order */
  windowP99: number[];
  /** p99 of the events due in the first EARLY_SECONDS */
  earlyP99: number;
  /** [seconds since start, bytes of device.db + WAL] */
  sizes: [number, number][];
  /** measured deliveries that had not arrived a minute after the last was due (a FAIL) */
  missing: number;
  /** receiver arrivals beyond the first of each delivery: retried attempts */
  repeats: number;
  worstLag: number;
  rows: Record<string, number>;
  /** the device's event loop: how long it was blocked at a stretch (ms) */
  loop: { p99: number; max: number };
  /** each purge run, start to end (ms; it yields between batches, so this is not all blocking) */
  purges: number[];
}

const receiver = await startReceiver({ record: true });
const url = `${receiver.url}/hook`;

async function patchSettings(device: BenchDevice, settings: object): Promise<void> {
  const response = await fetch(`${device.url}/settings`, {
    method: 'PATCH',
    headers: {
      authorization: 'Basic ' + Buffer.from(`sms:${PASSWORD}`).toString('base64'),
      'content-type': 'application/json',
    },
    body: JSON.stringify(settings),
  });
  if (response.status !== 200) throw new Error(`PATCH /settings: ${response.status} ${await response.text()}`);
}

const fileSize = (dir: string) =>
  ['device.db', 'device.db-wal'].reduce((sum, name) => {
    try {
      return sum + statSync(join(dir, name)).size;
    } catch {
      return sum;
    }
  }, 0);

async function run(
  label: string,
  seconds: number,
  retentionDays: number,
  messagesDays: number | null,
): Promise<RunResult> {
  await receiver.reset();
  const device = await startBenchDevice({ timeScale: TIME_SCALE });
  try {
    await patchSettings(device, {
      webhooks: { log_lifetime_days: retentionDays },
      messages: { log_lifetime_days: messagesDays },
      logs: { lifetime_days: retentionDays },
    });
    await registerWebhook(device, url);
    // Each purge run is timed: the timer calls the instance's purge().
    const purges: number[] = [];
    const purger = device.context.retention;
    const purge = purger.purge.bind(purger);
    purger.purge = () => {
      const t = now();
      return purge().finally(() => purges.push(now() - t));
    };
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const warm = WARMUP_SECONDS * RATE;
    const total = warm + seconds * RATE;
    const due = new Map<string, number>();
    // the warm-up's deliveries: not measured, and not counted as repeats either
    const warmIds = new Set<string>();
    const latencies = new Float64Array(seconds * RATE);
    const dues = new Float64Array(seconds * RATE);
    let measured = 0;
    let repeats = 0;
    let firstDue = Infinity;
    let lastArrival = 0;
    const offset = await receiver.clockOffset();
    const take = async () => {
      const { ids, arrivals } = await receiver.drain();
      for (let i = 0; i < ids.length; i++) {
        const dueAt = due.get(ids[i]);
        if (dueAt === undefined) {
          if (!warmIds.delete(ids[i])) repeats++;
          continue;
        }
        due.delete(ids[i]);
        const at = arrivals[i] - offset;
        dues[measured] = dueAt;
        latencies[measured++] = at - dueAt;
        lastArrival = Math.max(lastArrival, at);
      }
    };
    const started = now();
    const sizes: [number, number][] = [];
    const sampler = setInterval(() => sizes.push([(now() - started) / 1000, fileSize(device.dir)]), 1000);
    const drainer = setInterval(() => void take(), 2000);
    let worstLag: number;
    loop.enable();
    try {
      worstLag = await openLoop(total, RATE, (i, dueAt) => {
        void device.context.carrier
          .receive({ from: '+15550000000', text: `retention probe ${i}`, simNumber: 1 })
          .then(({ deliveryIds }) => {
            if (i < warm) warmIds.add(deliveryIds[0]);
            else {
              due.set(deliveryIds[0], dueAt);
              firstDue = Math.min(firstDue, dueAt);
            }
          });
      });
      const deadline = now() + 60_000;
      while (due.size > 0 && now() < deadline) {
        await sleep(200);
        await take();
      }
    } finally {
      loop.disable();
      clearInterval(sampler);
      clearInterval(drainer);
    }
    sizes.push([(now() - started) / 1000, fileSize(device.dir)]);
    const count = (table: string) => device.context.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    const rows = Object.fromEntries(['events', 'deliveries', 'attempts', 'inbox'].map((t) => [t, count(t)]));
    const sorted = latencies.slice(0, measured).sort();
    const p99Due = (from: number, to: number) => {
      const picked = latencies.subarray(0, measured).filter((_, i) => dues[i] >= from && dues[i] < to);
      return percentile(picked.sort(), 99);
    };
    const windowP99: number[] = [];
    for (let from = 0; from < seconds; from += WINDOW_SECONDS)
      windowP99.push(p99Due(firstDue + from * 1000, firstDue + (from + WINDOW_SECONDS) * 1000));
    return {
      label,
      seconds,
      delivered: measured,
      missing: due.size,
      activeSeconds: (lastArrival - firstDue) / 1000,
      throughput: measured / ((lastArrival - firstDue) / 1000),
      latencies: sorted,
      windowP99,
      earlyP99: p99Due(firstDue, firstDue + EARLY_SECONDS * 1000),
      sizes,
      repeats,
      worstLag,
      rows,
      loop: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      purges: purges.sort((a, b) => a - b),
    };
  } finally {
    await device.cleanup();
  }
}

/** The baseline's two halves as one run: their deliveries, latencies and time added up. */
function bothHalves(first: RunResult, second: RunResult): RunResult {
  const delivered = first.delivered + second.delivered;
  const activeSeconds = first.activeSeconds + second.activeSeconds;
  const latencies = new Float64Array(delivered);
  latencies.set(first.latencies);
  latencies.set(second.latencies, first.delivered);
  return {
    label: 'no retention',
    seconds: first.seconds + second.seconds,
    delivered,
    activeSeconds,
    throughput: delivered / activeSeconds,
    latencies: latencies.sort(),
    windowP99: [...first.windowP99, ...second.windowP99],
    earlyP99: first.earlyP99,
    sizes: second.sizes,
    missing: first.missing + second.missing,
    repeats: first.repeats + second.repeats,
    worstLag: Math.max(first.worstLag, second.worstLag),
    rows: second.rows,
    loop: { p99: Math.max(first.loop.p99, second.loop.p99), max: Math.max(first.loop.max, second.loop.max) },
    purges: [...first.purges, ...second.purges].sort((a, b) => a - b),
  };
}

const describe = (r: RunResult) =>
  `${fmt(r.throughput)} deliveries/s, p50 ${fmt(percentile(r.latencies, 50))} ms, p99 ${fmt(percentile(r.latencies, 99))} ms`;

/** The file's size at `at` seconds: the last sample at or before it. */
const sizeAt = (r: RunResult, at: number) => r.sizes.filter(([t]) => t <= at).at(-1)?.[1] ?? 0;

try {
  log(
    `time scale ${TIME_SCALE.toExponential(3)} (a day of retention = ${RETENTION_SECONDS} s); ${RATE} events/s, ${SECONDS} s with retention between two halves of ${BASE_SECONDS} s without`,
  );
  const firstHalf = await run('no retention, first half', Math.ceil(BASE_SECONDS / 2), 3650, null);
  const retained = await run('retention', SECONDS, 1, 1);
  const secondHalf = await run('no retention, second half', Math.floor(BASE_SECONDS / 2), 3650, null);
  const baseline = bothHalves(firstHalf, secondHalf);

  for (const r of [firstHalf, retained, secondHalf]) {
    const step = Math.max(1, Math.round((WARMUP_SECONDS + r.seconds) / 10));
    const series = r.sizes
      .filter(([t], i) => i === r.sizes.length - 1 || Math.round(t) % step === 0)
      .map(([t, bytes]) => `${Math.round(t)} s ${fmt(bytes / MB)} MB`);
    log(`${r.label}: file (device.db + WAL) over time: ${[...new Set(series)].join(', ')}`);
    log(
      `${r.label}: event loop delay p99 ${fmt(r.loop.p99)} ms, max ${fmt(r.loop.max)} ms; ${r.purges.length} purge runs, each p50 ${fmt(percentile(r.purges, 50))} ms, max ${fmt(r.purges.at(-1) ?? NaN)} ms`,
    );
    log(`${r.label}: p99 by minute of the run (ms): ${r.windowP99.map((v) => fmt(v)).join(', ')}`);
    log(
      `${r.label}: ${r.delivered} deliveries (${r.missing} never arrived) in ${r.seconds} s: ${describe(r)}, max ${fmt(r.latencies[r.latencies.length - 1])} ms; ${r.repeats} retried arrivals; worst emission lag ${fmt(r.worstLag)} ms; rows left: ${JSON.stringify(r.rows)}`,
    );
  }

  const end = retained.sizes.at(-1)![0];
  const plateauFrom = end - PLATEAU_SHARE * (retained.seconds + WARMUP_SECONDS);
  const before = sizeAt(retained, plateauFrom);
  const after = retained.sizes.at(-1)![1];
  const growth = after / before - 1;
  const throughputRatio = retained.throughput / baseline.throughput;
  const p99 = percentile(retained.latencies, 99);
  const baseP99 = percentile(baseline.latencies, 99);
  const p99Ratio = p99 / baseP99;
  log(
    `file: ${fmt(before / MB)} MB at ${Math.round(plateauFrom)} s, ${fmt(after / MB)} MB at the end (${fmt(growth * 100)}% over the last ${Math.round(PLATEAU_SHARE * 100)}%); without retention ${fmt(firstHalf.sizes.at(-1)![1] / MB)} and ${fmt(secondHalf.sizes.at(-1)![1] / MB)} MB after its halves of ${firstHalf.seconds} and ${secondHalf.seconds} s`,
  );
  log(
    `no retention, both halves: ${describe(baseline)} (p99 ${fmt(percentile(firstHalf.latencies, 99))} ms before the run with retention, ${fmt(percentile(secondHalf.latencies, 99))} ms after it)`,
  );
  log(
    `throughput ratio ${fmt(throughputRatio)}, p99 ratio ${fmt(p99Ratio)}; against the baseline's first ${EARLY_SECONDS} s (p99 ${fmt(baseline.earlyP99)} ms), the stricter figure: ${fmt(p99 / baseline.earlyP99)}`,
  );
  const missing = retained.missing + baseline.missing;
  if (missing > 0) log(`FAIL: ${missing} measured deliveries never arrived (still being retried at the end)`);
  const pass =
    missing === 0 && growth < PLATEAU_GROWTH && throughputRatio >= 1 - TOLERANCE && p99Ratio <= 1 + TOLERANCE;
  summary({
    name: 'retention',
    figure: `${describe(retained)}${missing > 0 ? `, ${missing} never arrived` : ''} over ${retained.seconds} s at ${RATE}/s with a ${RETENTION_SECONDS} s retention; file ${fmt(after / MB)} MB, +${fmt(growth * 100)}% over the last ${Math.round(PLATEAU_SHARE * 100)}%`,
    baseline: `${describe(baseline)} over ${baseline.seconds} s without retention, half before and half after (files ${fmt(firstHalf.sizes.at(-1)![1] / MB)} and ${fmt(secondHalf.sizes.at(-1)![1] / MB)} MB; p99 ${fmt(baseline.earlyP99)} ms over the first ${EARLY_SECONDS} s)`,
    ratio: p99Ratio,
    target: `file growth < ${PLATEAU_GROWTH * 100}% over the last ${Math.round(PLATEAU_SHARE * 100)}%, throughput >= ${1 - TOLERANCE}x and p99 <= ${1 + TOLERANCE}x the baseline's (ratio = p99; throughput ratio ${fmt(throughputRatio)}x)`,
    pass,
  });
} finally {
  await receiver.stop();
}
