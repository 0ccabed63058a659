/**
 * Bounded growth under load: the retention purge keeps the device's file flat without costing
 * throughput or latency.
 *
 * Two real devices (startDevice, both in one process of their own with one receiver process:
 * lib/retention-host.ts, which says why one) take sms:received events from an open-loop carrier at
 * RATE (1,000/s), each delivered to the receiver: one with a one-minute retention for everything
 * the purge removes (finished deliveries and their attempts, received messages, the device's own
 * log), the baseline with nothing expiring within the run (the three settings at 3650 days; messages
 * kept). The settings are in days, so the minute is a scaled day: both devices run with timeScale =
 * RETENTION_SECONDS / 86,400 (1/1440: the device's SMSGATE_TIME_SCALE), and the purge runs every
 * second (its floor) and removes what is a minute old. The same scale also shortens the devices'
 * other timers: an attempt's deadline is 30 s × 1/1440 ≈ 21 ms, so an answer slower than that is
 * retried (counted and reported below); both devices meet the same deadline.
 *
 * The two take turns of SLICE_SECONDS (5 s) of events, back to back, until each has had SECONDS
 * (600) of events (BASE_SECONDS for the baseline), about 21 minutes in all. These shared machines
 * drift, and step, over twenty minutes (the p99 without retention was 8.3 ms in 5 minutes before a
 * 10-minute run and 13.2 ms in 5 minutes after it), so two runs one after the other compare the
 * machine's moments as much as the devices; short turns put both through the same moments, and
 * many of them (120 each) average out the seconds that are slow for reasons of their own. A turn
 * ends when its deliveries have arrived, so only one device takes events at a time. Each device's
 * purge runs only while that device takes events (the host skips its timer's runs in between):
 * the two share a process and two cores, and a purge in the other's turn (its thread, and the
 * event loop's waits for its commits) would be charged to the other. So every
 * row the device with retention purges, it purges in its own turns, and at the rate it would
 * without turns (its rows expire at 500/s on average, and are purged in half the time).
 *
 * The file: device.db and its WAL of the device with retention, sampled every second; it must
 * plateau, growing less than 5% over the last 30% of its life. Without retention the file only
 * grows, so the baseline's first minutes are its smallest and fastest: the p99 of its first
 * EARLY_SECONDS (180) of events is reported too, the stricter figure. Throughput (deliveries that
 * arrived per second of the slices, each from its first due time to its last arrival) and p99 (from
 * an event's due time to the receiver's first arrival of its delivery) must stay within 10% of the
 * baseline's; the p99 turn by turn, as the median of each turn's p99 over the baseline's turns on
 * either side of it (see turnRatios for why; the p99 over all turns is printed too). At the end of
 * each of its turns the device with retention must hold no row more than 5 s past its retention: a
 * purge that falls behind deletes less while the device is measured, and its ratio would flatter it.
 * A machine on which the baseline itself retries more than 1% of its deliveries (the scaled deadline
 * of an attempt is ~21 ms) cannot run this comparison; the run says so.
 *
 * Run: `npx tsx bench/retention.ts` (about 21 minutes); shorter: BENCH_SECONDS=150
 * BENCH_RETENTION_SECONDS=30 (the baseline gets as many events). BENCH_SAME=1 runs both devices
 * without retention, to see how far the ratios stray when the devices do the same work.
 */
import { fileURLToPath } from 'node:url';
import { forkIpc, fmt, log, percentile, summary, MB } from './lib/harness.ts';
import type { DeviceName, HostedDeviceResult, RetentionHostOptions, SliceUsage } from './lib/retention-host.ts';
import { ATTEMPT_TIMEOUT_MS } from '../src/device/dispatch/retry-policy.ts';
import { DAY_MS } from '../src/shared/retention.ts';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 600);
const RETENTION_SECONDS = Number(process.env.BENCH_RETENTION_SECONDS ?? 60);
const BASE_SECONDS = Number(process.env.BENCH_BASE_SECONDS ?? SECONDS);
/** the baseline's first minutes, reported as the stricter comparison */
const EARLY_SECONDS = 180;
/** each device's turn of events */
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 5);
/**
 * BENCH_SAME=1: the first device runs without retention too, as the baseline does. The ratios of
 * such a run are the comparison's own spread on this machine, what a purge that cost nothing would
 * score (its verdict means nothing: the file grows).
 */
const SAME = process.env.BENCH_SAME === '1';
/** each device's first turn, not measured: the code's first runs, the receiver's first connections */
const WARMUP_SECONDS = 5;
const TIME_SCALE = (RETENTION_SECONDS * 1000) / DAY_MS;
/** the file may grow at most this much over the last PLATEAU_SHARE of the run */
const PLATEAU_GROWTH = 0.05;
const PLATEAU_SHARE = 0.3;
/** throughput and p99 within this of the baseline's */
const TOLERANCE = 0.1;
/** a baseline that retried more of its deliveries than this did not keep up: the run compares nothing */
const BASELINE_RETRY_SHARE = 0.01;

/** One device's run as the benchmark reports it; what it keeps as its host measured it is picked from HostedDeviceResult. */
interface RunResult extends Pick<
  HostedDeviceResult,
  'sizes' | 'missing' | 'repeats' | 'worstLag' | 'rows' | 'overdue' | 'sliceUsage'
> {
  label: string;
  seconds: number;
  delivered: number;
  throughput: number;
  /** sorted */
  latencies: Float64Array;
  /** p99 of the events of each slice, in order */
  sliceP99: number[];
  /** p99 of the events of the first EARLY_SECONDS of slices */
  earlyP99: number;
  /** each purge run, start to end (ms; it yields between batches, so this is not all blocking), sorted */
  purges: number[];
  /** purge runs that started while the device had a slice running */
  purgesSkipped: number;
}

async function startHost(options: RetentionHostOptions) {
  const { child, ask, exited } = await forkIpc(
    fileURLToPath(new URL('./lib/retention-host.ts', import.meta.url)),
    { BENCH_RETENTION_HOST: JSON.stringify(options) },
    'retention host',
  );
  return {
    slice: (device: DeviceName, events: number, warm: number) => ask('slice', { device, events, warm }),
    async finish(): Promise<Record<DeviceName, HostedDeviceResult>> {
      const results = await ask<Record<DeviceName, HostedDeviceResult>>('finish');
      child.disconnect();
      await exited;
      return results;
    },
  };
}

function summarize(label: string, seconds: number, r: HostedDeviceResult): RunResult {
  // where in a turn the tail is: the p99 of each second of a turn, over all turns
  const bySecond: number[][] = [];
  r.latencies.forEach((latency, i) => {
    const k = r.sliceStarts.findLastIndex((t) => t <= r.dues[i]);
    (bySecond[Math.floor((r.dues[i] - r.sliceStarts[k]) / 1000)] ??= []).push(latency);
  });
  log(
    `${label}: p99 by second of a turn, over all turns (ms): ${bySecond.map((a, second) => `${second}: ${fmt(percentile(Float64Array.from(a).sort(), 99))}`).join(', ')}`,
  );
  const p99Between = (from: number, to: number) =>
    percentile(Float64Array.from(r.latencies.filter((_, i) => r.dues[i] >= from && r.dues[i] < to)).sort(), 99);
  const bounds = [...r.sliceStarts, Infinity];
  const earlySlices = Math.ceil(EARLY_SECONDS / SLICE_SECONDS);
  return {
    label,
    seconds,
    delivered: r.delivered,
    throughput: r.delivered / r.activeSeconds,
    latencies: Float64Array.from(r.latencies).sort(),
    sliceP99: r.sliceStarts.map((from, k) => p99Between(from, bounds[k + 1])),
    earlyP99: p99Between(-Infinity, bounds[Math.min(earlySlices, bounds.length - 1)]),
    sizes: r.sizes,
    missing: r.missing,
    repeats: r.repeats,
    worstLag: r.worstLag,
    rows: r.rows,
    overdue: r.overdue,
    purges: [...r.purges].sort((a, b) => a - b),
    purgesSkipped: r.purgesSkipped,
    sliceUsage: r.sliceUsage,
  };
}

const describe = (r: RunResult) =>
  `${fmt(r.throughput)} deliveries/s, p50 ${fmt(percentile(r.latencies, 50))} ms, p99 ${fmt(percentile(r.latencies, 99))} ms`;

/** The file's size at `at` seconds: the last sample at or before it. */
const sizeAt = (r: RunResult, at: number) => r.sizes.filter(([t]) => t <= at).at(-1)?.[1] ?? 0;

log(
  `time scale ${TIME_SCALE.toExponential(3)} (a day of retention = ${RETENTION_SECONDS} s); ${RATE} events/s, ${SECONDS} s with retention and ${BASE_SECONDS} s without, taking turns of ${SLICE_SECONDS} s`,
);
const host = await startHost({
  timeScale: TIME_SCALE,
  rate: RATE,
  devices: {
    retained: { retentionDays: SAME ? 3650 : 1, messagesDays: SAME ? null : 1, events: SECONDS * RATE },
    baseline: { retentionDays: 3650, messagesDays: null, events: BASE_SECONDS * RATE },
  },
});
// Turns: the device with retention, then the baseline, and again; a turn starts when the one
// before it has ended (its deliveries arrived), so only one device takes events at a time.
const sliceEvents = SLICE_SECONDS * RATE;
await host.slice('retained', 0, WARMUP_SECONDS * RATE);
await host.slice('baseline', 0, WARMUP_SECONDS * RATE);
for (let done = { retained: 0, baseline: 0 }; ;) {
  const retainedNext = Math.min(sliceEvents, SECONDS * RATE - done.retained);
  const baselineNext = Math.min(sliceEvents, BASE_SECONDS * RATE - done.baseline);
  if (retainedNext <= 0 && baselineNext <= 0) break;
  if (retainedNext > 0) await host.slice('retained', retainedNext, 0);
  if (baselineNext > 0) await host.slice('baseline', baselineNext, 0);
  done = { retained: done.retained + Math.max(0, retainedNext), baseline: done.baseline + Math.max(0, baselineNext) };
}
const results = await host.finish();
const retained = summarize(SAME ? 'first, without retention (BENCH_SAME)' : 'retention', SECONDS, results.retained);
const baseline = summarize('no retention', BASE_SECONDS, results.baseline);

for (const r of [retained, baseline]) {
  const step = Math.max(1, Math.round((r.sizes.at(-1)?.[0] ?? 0) / 10));
  const series = r.sizes
    .filter(([t], i) => i === r.sizes.length - 1 || Math.round(t) % step === 0)
    .map(([t, bytes]) => `${Math.round(t)} s ${fmt(bytes / MB)} MB`);
  log(`${r.label}: file (device.db + WAL) over time: ${[...new Set(series)].join(', ')}`);
  log(
    `${r.label}: event loop delay in its turns, the worst turn's p99 ${fmt(Math.max(...r.sliceUsage.map((u) => u.loopP99)))} ms, max ${fmt(Math.max(...r.sliceUsage.map((u) => u.loopMax)))} ms; ${r.purges.length} purge runs (and ${r.purgesSkipped} skipped between its turns), each p50 ${fmt(percentile(r.purges, 50))} ms, max ${fmt(r.purges.at(-1) ?? NaN)} ms`,
  );
  log(`${r.label}: p99 of each turn (ms): ${r.sliceP99.map((v) => fmt(v)).join(', ')}`);
  // what the host process used in the device's turn (the other device idle), per event, the median over its turns: where the
  // purge's cost lands (the CPU of the event loop and checkpoint thread, or the writes and the disk)
  const median = (pick: (u: SliceUsage) => number) => percentile(Float64Array.from(r.sliceUsage.map(pick)).sort(), 50);
  log(
    `${r.label}: per event, the median turn: CPU ${fmt(median((u) => (u.userMs * 1000) / u.events))} µs user + ${fmt(median((u) => (u.systemMs * 1000) / u.events))} µs system, written ${fmt(median((u) => u.writtenBytes / 1024 / u.events))} KiB (to disk ${fmt(median((u) => u.diskBytes / 1024 / u.events))} KiB); involuntary switches ${fmt(median((u) => u.involuntarySwitches))} a turn; CPU of the event loop's thread ${fmt(median((u) => (u.threadsMs.loop * 1000) / u.events))} µs, the busiest other ${fmt(median((u) => (u.threadsMs.busiestOther * 1000) / u.events))} µs, the rest ${fmt(median((u) => (u.threadsMs.rest * 1000) / u.events))} µs; written by the event loop's thread ${fmt(median((u) => u.threadsWritten.loop / 1024 / u.events))} KiB, by the others ${fmt(median((u) => u.threadsWritten.others / 1024 / u.events))} KiB; the purge thread's batches took ${fmt(median((u) => (u.purgeBatchMs * 1000) / u.events))} µs (${fmt(median((u) => u.purgeBatches))} batches a turn) and the event loop waited for them ${fmt(median((u) => (u.lockWaitMs * 1000) / u.events))} µs (${fmt(median((u) => u.lockWaits))} times a turn); the WAL started over ${fmt(median((u) => u.walRestarts))} times a turn; event loop delay p99 ${fmt(median((u) => u.loopP99))} ms, max ${fmt(median((u) => u.loopMax))} ms`,
  );
  log(
    `${r.label}: ${r.delivered} deliveries (${r.missing} never arrived) in ${r.seconds} s of turns: ${describe(r)}, max ${fmt(r.latencies[r.latencies.length - 1])} ms; ${r.repeats} retried arrivals; worst emission lag ${fmt(r.worstLag)} ms; rows left: ${JSON.stringify(r.rows)}; rows past their retention at the end of a turn, at worst: ${JSON.stringify(r.overdue)}`,
  );
}

const end = retained.sizes.at(-1)![0];
const plateauFrom = end * (1 - PLATEAU_SHARE);
const before = sizeAt(retained, plateauFrom);
const after = retained.sizes.at(-1)![1];
const growth = after / before - 1;
const throughputRatio = retained.throughput / baseline.throughput;
const p99 = percentile(retained.latencies, 99);
const baseP99 = percentile(baseline.latencies, 99);
const overallP99Ratio = p99 / baseP99;
/** Each turn's p99 over the geometric mean of the baseline's turns `neighbours` names (turns without any left out), sorted. */
const turnRatiosAgainst = (neighbours: (turn: number) => number[]) =>
  retained.sliceP99
    .flatMap((v, k) => {
      const around = neighbours(k).filter((turn) => turn >= 0 && turn < baseline.sliceP99.length);
      const product = around.reduce((p, turn) => p * baseline.sliceP99[turn], 1);
      return around.length === 0 ? [] : [v / product ** (1 / around.length)];
    })
    .sort((a, b) => a - b);
// The verdict's p99 figure, turn by turn: each turn of the device with retention against the baseline's
// turns on either side of it (their geometric mean; the first has only the one after), and the
// median of those ratios. A stall of the machine falls in one device's turn or the other's, and the
// p99 over all turns follows the few turns it hits (a run read 1.2x on stalls while its turns, paired,
// read 0.993x), while a purge that costs the tail costs it in every turn, each having purge runs
// (with the purge on the event loop this figure read 1.11x and 1.17x). Both neighbours, so that going
// first in each pair does not tilt it.
const turnRatios = turnRatiosAgainst((k) => [k - 1, k]);
const p99Ratio = percentile(turnRatios, 50);
// the figure before 2026-12-06: each turn against the baseline's turn right after it only
const nextTurnRatios = turnRatiosAgainst((k) => [k]);
log(
  `file: ${fmt(before / MB)} MB at ${Math.round(plateauFrom)} s, ${fmt(after / MB)} MB at the end (${fmt(growth * 100)}% over the last ${Math.round(PLATEAU_SHARE * 100)}%); without retention ${fmt(baseline.sizes.at(-1)![1] / MB)} MB`,
);
log(
  `throughput ratio ${fmt(throughputRatio)}; p99 ratio turn by turn (each turn against the baseline's on either side), median ${fmt(p99Ratio)} (range ${fmt(turnRatios[0])}–${fmt(turnRatios.at(-1)!)}; against the turn after only ${fmt(percentile(nextTurnRatios, 50))}); over all turns at once ${fmt(overallP99Ratio)} (p99 ${fmt(p99)} against ${fmt(baseP99)} ms); against the baseline's first ${EARLY_SECONDS} s (p99 ${fmt(baseline.earlyP99)} ms), the stricter figure: ${fmt(p99 / baseline.earlyP99)}`,
);
const missing = retained.missing + baseline.missing;
if (missing > 0) log(`FAIL: ${missing} measured deliveries never arrived (still being retried at the end)`);
// The scaled clock shortens an attempt's deadline too: a machine that cannot answer within it retries,
// and the retries pile up on both devices alike, so the comparison says nothing about the purge.
if (baseline.missing > 0 || baseline.repeats > baseline.delivered * BASELINE_RETRY_SHARE)
  log(
    `the device without retention did not keep up either (${baseline.repeats} retried arrivals, ${baseline.missing} never arrived; an attempt's deadline is ${fmt(ATTEMPT_TIMEOUT_MS * TIME_SCALE)} ms at this time scale): this machine cannot take ${RATE} events/s now, and the ratios say nothing about the purge; try a quieter machine, or a lower BENCH_RATE for a rough comparison`,
  );
// a purge that falls behind deletes less while the device is measured, and so looks cheaper than it is
const overdue = Object.values(retained.overdue).reduce((sum, n) => sum + n, 0);
if (overdue > 0) log(`FAIL: the purge fell behind: ${overdue} rows were past their retention at the end of a turn`);
const pass =
  missing === 0 &&
  overdue === 0 &&
  growth < PLATEAU_GROWTH &&
  throughputRatio >= 1 - TOLERANCE &&
  p99Ratio <= 1 + TOLERANCE;
summary({
  name: 'retention',
  figure: `${describe(retained)}${missing > 0 ? `, ${missing} never arrived` : ''}${overdue > 0 ? `, ${overdue} rows overdue` : ''} over ${retained.seconds} s at ${RATE}/s with a ${RETENTION_SECONDS} s retention; file ${fmt(after / MB)} MB, +${fmt(growth * 100)}% over the last ${Math.round(PLATEAU_SHARE * 100)}%`,
  baseline: `${describe(baseline)} over ${baseline.seconds} s without retention, in turns of ${SLICE_SECONDS} s with it (file ${fmt(baseline.sizes.at(-1)![1] / MB)} MB; p99 ${fmt(baseline.earlyP99)} ms over its first ${EARLY_SECONDS} s)`,
  ratio: p99Ratio,
  target: `no row past its retention at a turn's end, file growth < ${PLATEAU_GROWTH * 100}% over the last ${Math.round(PLATEAU_SHARE * 100)}%, throughput >= ${1 - TOLERANCE}x and p99 <= ${1 + TOLERANCE}x the baseline's (ratio = p99, the median turn's against the baseline's turns around it; over all turns ${fmt(overallP99Ratio)}x; throughput ratio ${fmt(throughputRatio)}x)`,
  pass,
});
