import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '../../src/device/store/database.ts';
import { DeviceStats } from '../../src/device/store/stats.ts';
import { tempDir } from '../helpers/device.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A repeatable stream of numbers in [0, 1), so a failure can be replayed. */
function seeded(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/**
 * The Overview finds a window's deliveries through a range of seq and the index of those that
 * finished late (device migration 0016), not by an index on each time. Its counts must be those of
 * reading every row: deliveries created in the window, finished in it minutes or days after they
 * were created, still pending, or cancelled long after.
 */
test("the Overview's queue moves and successes match a read of every delivery, for deliveries that finish soon, late or never", () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const random = seeded(20_261_205);
    const insert = db.prepare(
      `INSERT INTO deliveries (id, event_id, event, webhook_source, webhook_id, url, body, state, attempts,
                               next_attempt_at, created_at, updated_at, success_started_at, success_duration_ms)
       VALUES (:id, 'e', 'sms:received', 'Local', 'hook', 'http://127.0.0.1:9/', '{}', :state, 1,
               :createdAt, :createdAt, :updatedAt, :successAt, :successAt - :successAt % 1 + 5)`,
    );
    // seq follows creation: 3,000 deliveries over two days, a few minutes apart at most
    let createdAt = 0;
    const lateOnes = { finished: 0 };
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        createdAt += Math.floor(random() * 2 * MINUTE);
        const roll = random();
        // most finish within seconds; some after minutes, some hours or a day later; some never
        const delay =
          roll < 0.6
            ? Math.floor(random() * 5_000)
            : roll < 0.8
              ? Math.floor(random() * 15 * MINUTE)
              : Math.floor(random() * 30 * HOUR);
        const state = roll > 0.95 ? 'pending' : random() < 0.8 ? 'succeeded' : random() < 0.5 ? 'failed' : 'cancelled';
        const updatedAt = state === 'pending' ? createdAt : createdAt + delay;
        if (state !== 'pending' && delay > 10 * MINUTE) lateOnes.finished++;
        insert.run({
          id: `d${i}`,
          state,
          createdAt,
          updatedAt,
          successAt: state === 'succeeded' ? updatedAt - Math.floor(random() * Math.min(delay, 2_000)) : null,
        });
      }
    })();
    assert.ok(lateOnes.finished > 300, `${lateOnes.finished} deliveries finished more than ten minutes after creation`);

    const stats = new DeviceStats(db);
    const everyRow = {
      entered: db.prepare<{ since: number; until: number; bucketMs: number }, { bucket: number; n: number }>(
        `SELECT created_at - created_at % :bucketMs AS bucket, count(*) AS n FROM deliveries NOT INDEXED
          WHERE created_at BETWEEN :since AND :until GROUP BY bucket`,
      ),
      finished: db.prepare<{ since: number; until: number; bucketMs: number }, { bucket: number; n: number }>(
        `SELECT updated_at - updated_at % :bucketMs AS bucket, count(*) AS n FROM deliveries NOT INDEXED
          WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at BETWEEN :since AND :until GROUP BY bucket`,
      ),
      succeeded: db.prepare<{ since: number; until: number; bucketMs: number }, { bucket: number; n: number }>(
        `SELECT success_started_at - success_started_at % :bucketMs AS bucket, count(*) AS n FROM deliveries NOT INDEXED
          WHERE state = 'succeeded' AND success_started_at BETWEEN :since AND :until GROUP BY bucket`,
      ),
    };
    const byBucket = (rows: { bucket: number; n: number }[]) =>
      Object.fromEntries(rows.filter((r) => r.n > 0).map((r) => [r.bucket, r.n]));

    let windowsWithLateFinishes = 0;
    // hours and days across the history, the first minutes, and windows past the last delivery
    const windows = [
      ...Array.from({ length: 12 }, (_, i) => ({ since: i * 4 * HOUR, until: i * 4 * HOUR + HOUR, bucketMs: MINUTE })),
      ...Array.from({ length: 3 }, (_, i) => ({ since: i * 24 * HOUR, until: (i + 1) * 24 * HOUR, bucketMs: HOUR })),
      { since: 0, until: 10 * MINUTE, bucketMs: MINUTE },
      { since: createdAt + HOUR, until: createdAt + 2 * HOUR, bucketMs: MINUTE },
    ];
    for (const window of windows) {
      const read = stats.read({ ...window, failingLimit: 5 });
      const label = `window ${window.since / MINUTE}–${window.until / MINUTE} min`;
      assert.deepEqual(
        byBucket(read.queueMoves.map((r) => ({ bucket: Number(r.bucket), n: Number(r.entered) }))),
        byBucket(everyRow.entered.all(window)),
        `${label}: deliveries created`,
      );
      const finished = byBucket(everyRow.finished.all(window));
      assert.deepEqual(
        byBucket(read.queueMoves.map((r) => ({ bucket: Number(r.bucket), n: Number(r.finished) }))),
        finished,
        `${label}: deliveries finished`,
      );
      assert.deepEqual(
        byBucket(read.attempts.map((r) => ({ bucket: Number(r.bucket), n: Number(r.succeeded) }))),
        byBucket(everyRow.succeeded.all(window)),
        `${label}: successes`,
      );
      const late = db
        .prepare<typeof window, { n: number }>(
          `SELECT count(*) AS n FROM deliveries NOT INDEXED
            WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at BETWEEN :since AND :until
              AND created_at < :since - 600000`,
        )
        .get(window)!.n;
      if (late > 0) windowsWithLateFinishes++;
    }
    assert.ok(windowsWithLateFinishes >= 10, `${windowsWithLateFinishes} windows hold deliveries that finished late`);
  } finally {
    db.close();
    dir.remove();
  }
});
