/**
 * Benchmark 1, delivery throughput.
 *
 * Device: sms:received events enter through the carrier (carrier.receive) while the device
 * is offline, each committed with its delivery (ingest, timed apart). Then it goes online and the
 * dispatcher claims, signs, POSTs and records them durably; the figure is deliveries / (online →
 * last delivery recorded as succeeded).
 * Baseline: a bare undici client POSTs the very same bodies, with the same headers computed
 * beforehand, to the same receiver process at the same concurrency.
 * The machine is shared and noisy, so device and baseline alternate over ROUNDS rounds and the
 * ratio is the median of the per-round ratios (each pair ran seconds apart, under the same noise).
 */
import { Agent } from 'undici';
import {
  bareSignedPosts,
  fmt,
  log,
  median,
  now,
  profilePhase,
  registerWebhook,
  sleep,
  startBenchDevice,
  startReceiver,
  summary,
} from './lib/harness.ts';

const N = Number(process.env.BENCH_N ?? 60_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TARGET = 0.5;
const perRound = Math.ceil(N / ROUNDS);

const receiver = await startReceiver();
const url = `${receiver.url}/hook`;
const device = await startBenchDevice({
  concurrency: CONCURRENCY,
  perReceiverLimit: Number(process.env.BENCH_PER_RECEIVER ?? CONCURRENCY / 2),
});
await registerWebhook(device, url);
const { db, carrier, network, settings } = device.context;
const succeeded = db.prepare(`SELECT count(*) FROM deliveries WHERE state = 'succeeded'`).pluck();
// Polled while the clock runs, so it must stay O(log n): counting 40k rows every 10 ms cost the device ~7%.
const queued = db.prepare(`SELECT 1 FROM deliveries WHERE state = 'pending' LIMIT 1`).pluck(); // in flight = pending rows too
const lastBodies = db
  .prepare(`SELECT body FROM (SELECT seq, body FROM deliveries ORDER BY seq DESC LIMIT ?) ORDER BY seq`)
  .pluck();
const bareAgent = new Agent({ keepAliveTimeout: 10_000 });

/** Commit `count` events offline, then go online and time the delivery of all of them. */
async function deviceRun(
  count: number,
  profileLabel?: string,
): Promise<{ ingest: number; delivery: number; cpuUs: number }> {
  const before = succeeded.get() as number;
  network.set(false); // deliveries wait without spending attempts
  const ingestStarted = now();
  for (let i = 0; i < count; i++)
    await carrier.receive({ from: '+15550000000', text: `bench message ${i}`, simNumber: 1 });
  const ingest = count / ((now() - ingestStarted) / 1000);
  await sleep(50);
  const stopProfile = profileLabel ? await profilePhase(profileLabel) : async () => {};
  const started = now();
  const cpu = process.cpuUsage();
  network.set(true);
  while (queued.get() !== undefined) await sleep(10);
  const elapsed = now() - started;
  const { user, system } = process.cpuUsage(cpu);
  await stopProfile();
  const done = (succeeded.get() as number) - before;
  if (done !== count) throw new Error(`${done} of ${count} deliveries succeeded`);
  return { ingest, delivery: count / (elapsed / 1000), cpuUs: (user + system) / count };
}

/** The baseline: the same bodies, posted by a bare client. */
const bareRun = (bodies: string[]) =>
  bareSignedPosts(url, bodies, { signingKey: settings.signingKey(), concurrency: CONCURRENCY, dispatcher: bareAgent });

try {
  // Warm both paths up (JIT, sockets, SQLite pages) before anything is timed.
  await deviceRun(2_000);
  await bareRun(lastBodies.all(2_000) as string[]);

  const rounds: { ingest: number; device: number; bare: number; deviceCpu: number; bareCpu: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const d = await deviceRun(perRound, round === 0 ? 'throughput-delivery' : undefined);
    const b = await bareRun(lastBodies.all(perRound) as string[]);
    rounds.push({ ingest: d.ingest, device: d.delivery, bare: b.rate, deviceCpu: d.cpuUs, bareCpu: b.cpuUs });
    log(
      `round ${round + 1}: ${perRound} deliveries, device ${fmt(d.delivery)}/s (${fmt(d.cpuUs)} µs CPU each), ` +
        `bare undici ${fmt(b.rate)}/s (${fmt(b.cpuUs)} µs CPU each), ratio ${fmt(d.delivery / b.rate)} (ingest ${fmt(d.ingest)} events/s)`,
    );
  }
  const deviceRate = median(rounds.map((r) => r.device));
  const bareRate = median(rounds.map((r) => r.bare));
  const ratio = median(rounds.map((r) => r.device / r.bare));
  log(
    `carrier ingest, one transaction per event before any send: ${fmt(median(rounds.map((r) => r.ingest)))} events/s (median)`,
  );
  // CPU per delivery is much less sensitive to the neighbours than wall-clock rates are.
  log(
    `CPU per delivery (median): device ${fmt(median(rounds.map((r) => r.deviceCpu)))} µs, bare client ${fmt(median(rounds.map((r) => r.bareCpu)))} µs per request`,
  );
  summary({
    name: 'throughput',
    figure: `${fmt(deviceRate)} deliveries/s`,
    baseline: `${fmt(bareRate)} req/s (bare undici, same bodies, concurrency ${CONCURRENCY})`,
    ratio,
    target: `>= ${TARGET}x (median of ${ROUNDS} paired rounds)`,
    pass: ratio >= TARGET,
  });
} finally {
  await bareAgent.close();
  await device.cleanup();
  await receiver.stop();
}
