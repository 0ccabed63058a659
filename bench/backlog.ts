/**
 * Benchmark 3, backlog scale.
 *
 * Two devices, each in a process of its own with its own SQLite file (bench/lib/device-host.ts),
 * deliver to the same receiver process. A device is held offline (deliveries wait and spend no
 * attempt) while its backlog is built through its outbox, BATCH events (one delivery each) per
 * transaction.
 *   big:   1,000,000 deliveries, enqueued while the receiver process is not running (the enqueue
 *          rate is reported); then the receiver is started.
 *   small: a 1,000 backlog.
 * Then, WINDOWS times over: the small device builds and drains a 1,000 backlog, and the big one
 * drains its next 1,000, so both sides of a pair are timed over the same amount of work and only
 * the backlog behind it differs (50 windows drain the first 50,000 of the million). The machine is
 * shared and noisy, so the ratio is the median of the per-window ratios (big rate / small rate),
 * each pair measured within a second.
 * A drain is timed from going online until the receiver process has counted that many requests.
 * The big device's process samples its own RSS every 100 ms and after every batch, throughout.
 */
import {
  fmt,
  freePort,
  log,
  MB,
  now,
  sleep,
  startDeviceHost,
  startReceiver,
  summary,
  type DeviceHost,
  type ReceiverProcess,
  median,
} from './lib/harness.ts';

const BIG = Number(process.env.BENCH_BACKLOG ?? 1_000_000);
const SMALL = 1_000;
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? 50);
const BATCH = 10_000;
const TARGET_RATIO = 0.8;
const RSS_LIMIT_MB = 300;

const port = await freePort();
const url = `http://127.0.0.1:${port}/hook`;
const [big, small] = await Promise.all([startDeviceHost(), startDeviceHost()]);
let receiver: ReceiverProcess | undefined;

/** Go online and time until the receiver has counted `count` more requests; then offline again. */
async function drain(device: DeviceHost, count: number): Promise<number> {
  const before = await receiver!.count();
  const started = now();
  await device.call({ type: 'online', value: true });
  while ((await receiver!.count()) - before < count) await sleep(2);
  const elapsed = now() - started;
  await device.call({ type: 'online', value: false });
  await device.call({ type: 'settle' }); // attempts in flight are recorded before the next drain
  return count / (elapsed / 1000);
}

try {
  for (const device of [big, small]) {
    await device.call({ type: 'online', value: false });
    await device.call({ type: 'register', url });
  }
  const { rate: enqueueRate } = await big.call<{ rate: number }>({ type: 'build', count: BIG, batch: BATCH });
  const afterBuild = await big.call<{ now: number }>({ type: 'rss' });
  log(
    `enqueued ${BIG} deliveries with the receiver down at ${fmt(enqueueRate)} events/s (${BATCH} per transaction); device RSS ${fmt(afterBuild.now / MB)} MB`,
  );
  receiver = await startReceiver({ port });

  await small.call({ type: 'build', count: SMALL, batch: BATCH }); // warm-up: JIT and sockets
  await drain(small, SMALL);

  const pairs: { small: number; big: number }[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    await small.call({ type: 'build', count: SMALL, batch: BATCH });
    const smallRate = await drain(small, SMALL);
    const bigRate = await drain(big, SMALL);
    pairs.push({ small: smallRate, big: bigRate });
  }
  log(`1,000 backlog:  ${pairs.map((p) => fmt(p.small)).join(', ')} deliveries/s`);
  log(
    `${BIG / 1e6} M backlog: ${pairs.map((p) => fmt(p.big)).join(', ')} deliveries/s (${SMALL} per window, ${WINDOWS * SMALL} drained in all)`,
  );
  const { count: pending } = await big.call<{ count: number }>({ type: 'count', state: 'pending' });
  const { peak, atPeak } = await big.call<{ peak: number; atPeak: NodeJS.MemoryUsage }>({ type: 'rss' });
  const peakMb = peak / MB;
  log(
    `${pending} deliveries still pending on the big device; its peak RSS ${fmt(peakMb)} MB (limit ${RSS_LIMIT_MB} MB)`,
  );
  log(
    `  at the peak: V8 heap ${fmt(atPeak.heapUsed / MB)} MB used of ${fmt(atPeak.heapTotal / MB)} MB, external ${fmt(atPeak.external / MB)} MB (array buffers ${fmt(atPeak.arrayBuffers / MB)} MB); the rest is native (SQLite's page cache, code, stacks)`,
  );
  const ratio = median(pairs.map((p) => p.big / p.small));
  summary({
    name: 'backlog',
    figure: `${fmt(median(pairs.map((p) => p.big)))} deliveries/s draining a ${BIG / 1e6} M backlog, peak RSS ${fmt(peakMb)} MB, enqueue ${fmt(enqueueRate)}/s`,
    baseline: `${fmt(median(pairs.map((p) => p.small)))} deliveries/s draining a 1,000 backlog`,
    ratio,
    target: `>= ${TARGET_RATIO}x (median of ${WINDOWS} paired windows), RSS <= ${RSS_LIMIT_MB} MB`,
    pass: ratio >= TARGET_RATIO && peakMb <= RSS_LIMIT_MB,
  });
} finally {
  await Promise.all([big.stop(), small.stop()]);
  await receiver?.stop();
}
