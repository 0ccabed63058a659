/**
 * Benchmark 4, retry timing.
 *
 * 1,000 sms:received events arrive at RATE per second (open loop); the receiver process answers
 * 500 to the first two attempts of every delivery id and 200 to the third. The device runs on a
 * scaled clock (timeScale SCALE: the 10 s and 20 s retry delays become 100 ms and 200 ms at 0.01).
 * Why spread the events: the scale compresses the schedule 100x but not the device's speed, so
 * 1,000 failures at the same instant would make 1,000 retries due within milliseconds, more than
 * any 32-wide dispatcher can start at once; that measures capacity (benchmark 1), not timing.
 * From the device's attempt log, each retry's schedule is the end of the previous attempt plus
 * its delay (what the dispatcher stores as next_attempt_at); the error is when the retry started
 * minus that. Target: no retry early, every retry late by at most max(5% of its delay, 50 ms).
 * Baseline: bare setTimeout, armed for the same delays at the same moments (relative to the
 * first failure) in this process, after the device has finished; its lateness is the floor any
 * timer-driven scheduler on this machine starts from.
 */
import {
  attemptCounter,
  fmt,
  log,
  now,
  percentile,
  profilePhase,
  registerWebhook,
  sleep,
  startBenchDevice,
  startReceiver,
  summary,
} from './lib/harness.ts';
import { retryDelayMs } from '../src/device/dispatch/retry-policy.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const SCALE = Number(process.env.BENCH_TIME_SCALE ?? 0.01);
const FAILURES = 2;
const TOLERANCE_SHARE = 0.05;
const TOLERANCE_FLOOR_MS = 50;

const receiver = await startReceiver({ failFirst: FAILURES });
const device = await startBenchDevice({ timeScale: SCALE });
await registerWebhook(device, `${receiver.url}/hook`);
const { db, carrier } = device.context;

interface Retry {
  /** when the previous attempt ended: the retry was scheduled from here */
  armedAt: number;
  delay: number;
  scheduled: number;
  started: number;
}
const allowance = (delay: number) => Math.max(TOLERANCE_SHARE * delay, TOLERANCE_FLOOR_MS);

try {
  const stopProfile = await profilePhase('retry');
  const t0 = now();
  for (let i = 0; i < EVENTS;) {
    while (i < EVENTS && t0 + (i * 1000) / RATE <= now())
      void carrier.receive({ from: '+15550000000', text: `retry probe ${i++}`, simNumber: 1 });
    await sleep(1);
  }
  const expected = EVENTS * (FAILURES + 1);
  const deadline = now() + 60_000;
  const attemptCount = attemptCounter(db);
  while (attemptCount() < expected && now() < deadline) await sleep(20);
  await stopProfile();

  // each delivery's attempt log as the device keeps it (failed attempts and the success), in order
  const ids = db.prepare(`SELECT id FROM deliveries ORDER BY seq`).pluck().all() as string[];
  const rows = ids.flatMap((id) => device.context.outbox.getDelivery(id)!.attemptLog);
  const succeeded = db.prepare(`SELECT count(*) FROM deliveries WHERE state = 'succeeded'`).pluck().get() as number;
  if (rows.length !== expected || succeeded !== EVENTS) {
    throw new Error(
      `expected ${expected} attempts and ${EVENTS} successes, got ${rows.length} attempts and ${succeeded} successes`,
    );
  }
  const retries: Retry[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row.number === 1) continue;
    const previous = rows[i - 1];
    const armedAt = previous.startedAt + previous.durationMs;
    const delay = retryDelayMs(row.number - 2, SCALE);
    retries.push({ armedAt, delay, scheduled: armedAt + delay, started: row.startedAt });
  }
  const errors = retries.map((r) => r.started - r.scheduled);
  const early = retries.filter((r) => r.started < r.scheduled).length;
  const outside = retries.filter((r) => r.started - r.scheduled > allowance(r.delay)).length;
  const sorted = [...errors].sort((a, b) => a - b);

  // Baseline: the same delays, armed at the same relative moments, on bare setTimeout.
  const first = Math.min(...retries.map((r) => r.armedAt));
  const bare: number[] = [];
  const origin = now();
  await Promise.all(
    retries.map(
      (r) =>
        new Promise<void>((resolve) => {
          setTimeout(
            () => {
              const armed = now();
              setTimeout(() => {
                bare.push(now() - (armed + r.delay));
                resolve();
              }, r.delay);
            },
            Math.max(0, r.armedAt - first - (now() - origin)),
          );
        }),
    ),
  );
  bare.sort((a, b) => a - b);

  const describe = (s: number[]) =>
    `p50 ${fmt(percentile(s, 50))} ms, p99 ${fmt(percentile(s, 99))} ms, max ${fmt(s[s.length - 1])} ms late`;
  const delays = [...new Set(retries.map((r) => r.delay))].join(' and ');
  log(
    `${retries.length} retries of ${EVENTS} deliveries arriving at ${RATE}/s (delays ${delays} ms at time scale ${SCALE}): ${describe(sorted)}; ${early} early, ${outside} outside max(5%, 50 ms); earliest ${fmt(sorted[0])} ms`,
  );
  log(`bare setTimeout, same delays and arming pattern: ${describe(bare)}`);
  summary({
    name: 'retry',
    figure: `${describe(sorted)}, ${early} early, ${outside}/${retries.length} outside tolerance`,
    baseline: `bare setTimeout ${describe(bare)}`,
    ratio: sorted[sorted.length - 1] / Math.max(bare[bare.length - 1], 1),
    target: `none early, all within max(5% of delay, 50 ms) (ratio = max / baseline max, floor 1 ms)`,
    pass: early === 0 && outside === 0,
  });
} finally {
  await device.cleanup();
  await receiver.stop();
}
