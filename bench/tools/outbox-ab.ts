/**
 * Paired A/B of the device outbox's three SQLite costs per delivery, the intake (an event's
 * delivery rows, one for each of `BENCH_WEBHOOKS` webhooks, 20 unless set; 16 events per commit, as
 * the group commit gathers them), the recording of successes (100 per commit) and the retention
 * purge of finished deliveries (the device's RetentionPurger, each round removing the
 * round before last; its CPU time, since it rests between batches): two outboxes in one process,
 * each on its own file, fed alternately batch by batch, so that the machine's swings fall on both
 * alike. Not a benchmark (`npm run bench` does not run it): a tool for deciding whether a schema or
 * statement change is worth keeping.
 *
 * A side is the device schema plus SQL run on it after the migrations (`PRE_A`, `PRE_B`, statements
 * separated by `;`), with this checkout's stores, or another's: `SRC_A`, `SRC_B` name the `src`
 * directory of another checkout (a `git worktree` of an earlier commit, say) whose migrations,
 * outbox and purger that side runs. Prints each side's median µs per delivery and the median of the
 * per-batch B/A ratios; run it with both sides alike first to see the noise (B/A within ±4% here).
 *
 *   PRE_B='DROP INDEX deliveries_pending' node --import tsx bench/tools/outbox-ab.ts
 *   git worktree add /tmp/before HEAD~1 && SRC_A=/tmp/before/src node --import tsx bench/tools/outbox-ab.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { openDatabase as OpenDatabase } from '../../src/device/store/database.ts';
import type { Outbox as OutboxClass, AttemptResult, ClaimedDelivery } from '../../src/device/store/outbox.ts';
import type { RetentionPurger as PurgerClass } from '../../src/device/store/retention.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { DAY_MS } from '../../src/shared/retention.ts';
import { inTransaction } from '../../src/shared/sqlite.ts';
import { median } from '../lib/harness.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
const WARMUP_ROUNDS = 10;
// the purge removes a round's rows two rounds on, so its first samples come from the third round
if (!Number.isInteger(ROUNDS) || ROUNDS < WARMUP_ROUNDS + 3)
  throw new Error(
    `BENCH_ROUNDS must be a whole number of at least ${WARMUP_ROUNDS + 3} (the first ${WARMUP_ROUNDS} are warm-up)`,
  );
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 20);
if (!Number.isInteger(WEBHOOKS) || WEBHOOKS < 1) throw new Error('BENCH_WEBHOOKS must be a whole number of at least 1');
const EVENTS_PER_COMMIT = 16;
const COMMITS_PER_ROUND = 10;
const RESULTS_PER_COMMIT = 100;
/** Each round is this far after the one before on the sides' clock; a round's rows are purged two rounds on. */
const ROUND_MS = 1_000;
const KEPT_MS = 2 * ROUND_MS - 1;

const payload = {
  messageId: 'abcdefghijklmnop',
  message: 'x'.repeat(160),
  phoneNumber: '+15550000000',
  sender: '+15550000000',
  recipient: '+15550000001',
  simNumber: 1,
  receivedAt: '2026-12-03T05:00:00.000+07:00',
};
const targets = Array.from({ length: WEBHOOKS }, (_, i) => ({
  source: 'Local' as const,
  webhookId: `webhook-${i}-0123456789`,
  url: `http://127.0.0.1:9/hook${i}`,
  envelopeDeviceId: 'device-0123456789ab',
}));
const noRetries = { retryAt: () => null };

/** The stores of the checkout whose `src` is `srcDir` (this one's when unset). */
async function stores(srcDir: string | undefined) {
  const module = (path: string) =>
    import(srcDir ? pathToFileURL(join(srcDir, path)).href : new URL(`../../src/${path}`, import.meta.url).href);
  return {
    openDatabase: (await module('device/store/database.ts')).openDatabase as typeof OpenDatabase,
    Outbox: (await module('device/store/outbox.ts')).Outbox as typeof OutboxClass,
    RetentionPurger: (await module('device/store/retention.ts')).RetentionPurger as typeof PurgerClass,
  };
}

const dirs: string[] = [];
async function side(preSql: string, srcDir: string | undefined) {
  const { openDatabase, Outbox, RetentionPurger } = await stores(srcDir);
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-outbox-ab-'));
  dirs.push(dir);
  const db = openDatabase(join(dir, 'device.db'));
  for (const sql of preSql.split(';').filter((statement) => statement.trim())) db.exec(sql);
  // the side's own time, set at each round's start: the rows it stamps are purged by it, not by the wall clock
  let sideNow = 0;
  const clock = { ...systemClock, now: () => sideNow };
  const purger = new RetentionPurger({
    db,
    clock,
    retention: () => ({ webhookLog: KEPT_MS / DAY_MS, messages: null, logs: 3650 }),
    messages: { purgeFinished: () => 0 },
    timeScale: 1,
    onError: (error) => {
      throw error;
    },
  });
  return {
    db,
    outbox: new Outbox(db),
    purger,
    setNow: (at: number) => (sideNow = at),
    intake: [] as number[],
    record: [] as number[],
    purge: [] as number[],
  };
}
const cpuMicroseconds = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const microseconds = () => Number(process.hrtime.bigint()) / 1e3;
const sides = [
  await side(process.env.PRE_A ?? '', process.env.SRC_A),
  await side(process.env.PRE_B ?? '', process.env.SRC_B),
];
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of round % 2 ? [sides[1], sides[0]] : sides) {
      const ready: ClaimedDelivery[] = [];
      const now = round * ROUND_MS;
      s.setNow(now);
      let started = microseconds();
      for (let commit = 0; commit < COMMITS_PER_ROUND; commit++) {
        inTransaction(s.db, () => {
          for (let event = 0; event < EVENTS_PER_COMMIT; event++) {
            ready.push(...s.outbox.enqueue('sms:received', payload, targets, now).ready);
          }
        });
      }
      s.intake.push((microseconds() - started) / ready.length);
      for (const delivery of ready) s.outbox.adopt(delivery);
      started = microseconds();
      for (let i = 0; i < ready.length; i += RESULTS_PER_COMMIT) {
        const results = ready.slice(i, i + RESULTS_PER_COMMIT).map((delivery): AttemptResult => ({
          delivery,
          startedAt: now,
          durationMs: 1,
          ok: true,
          status: 200,
          error: null,
          responsePreview: '',
        }));
        s.outbox.recordAttempts(results, noRetries, now);
      }
      s.record.push((microseconds() - started) / ready.length);
      const cpuBefore = cpuMicroseconds();
      const purged = await s.purger.purge();
      if (purged.deliveries > 0) s.purge.push((cpuMicroseconds() - cpuBefore) / purged.deliveries);
    }
  }
  for (const cost of ['intake', 'record', 'purge'] as const) {
    const [a, b] = sides.map((s) => s[cost].slice(WARMUP_ROUNDS));
    const ratios = b.map((value, i) => value / a[i]);
    console.log(
      `${cost}: A ${median(a).toFixed(2)} µs per delivery, B ${median(b).toFixed(2)}, B/A median ${median(ratios).toFixed(3)}`,
    );
  }
} finally {
  // the purge's thread holds the process open until it is stopped
  for (const s of sides) await s.purger.stop();
  for (const s of sides) s.db.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
