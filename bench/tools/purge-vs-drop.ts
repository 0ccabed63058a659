/**
 * What removing expired rows costs on the device, two ways: the retention purge as it runs (its
 * batches of PURGE_BATCH deliveries and received messages, each a transaction on the purge's thread),
 * and dropping a table that holds the same rows whole, as a table per period would. Both sets of
 * rows are written into one device file first (N sms:received deliveries and N received messages,
 * shaped as the retention benchmark's); the WAL is not checkpointed while each way runs, so its
 * size counts the frames each wrote. Not a benchmark (`npm run bench` does not run it): a
 * measurement for deciding how the purge should delete.
 *
 *   N=30000 node --import tsx bench/tools/purge-vs-drop.ts
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/device/store/database.ts';
import { RetentionPurger } from '../../src/device/store/retention.ts';
import { DAY_MS } from '../../src/shared/retention.ts';

const N = Number(process.env.N ?? 30_000);
if (!Number.isInteger(N) || N < 1) throw new Error('N must be a whole number of at least 1');
/** a WAL frame: a page of 4 KiB and its 24-byte header */
const FRAME_BYTES = 4096 + 24;

const dir = mkdtempSync(join(tmpdir(), 'purge-vs-drop-'));
const db = openDatabase(join(dir, 'device.db'));
try {
  db.pragma('wal_autocheckpoint = 0');
  const body = JSON.stringify({
    deviceId: 'device-0123456789ab',
    event: 'sms:received',
    id: 'delivery-0123456789ab',
    payload: {
      messageId: 'abcdefghijklmnop',
      message: 'retention probe 123456',
      phoneNumber: '+15550000000',
      sender: '+15550000000',
      recipient: null,
      simNumber: 1,
      receivedAt: '2026-12-03T05:00:00.000+07:00',
    },
    webhookId: 'webhook-0123456789',
  });
  // created at 1..N ms since the epoch: a cutoff a day after N finds every row expired
  const fill = (deliveries: string, inbox: string) => {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
       INSERT INTO ${deliveries} (id, event_id, event, webhook_source, webhook_id, url, body, state, attempts,
                                  next_attempt_at, created_at, updated_at, last_status,
                                  success_started_at, success_duration_ms, success_response_preview)
       SELECT '${deliveries}-' || printf('%08d', i), 'event-' || i, 'sms:received', 'Local', 'webhook-0123456789',
              'http://127.0.0.1:4000/hook', :body, 'succeeded', 1, i, i, i + 2, 200, i, 2, 'ok'
         FROM n`,
    ).run({ rows: N, body });
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
       INSERT INTO ${inbox} (id, type, message_id, sender, sim_number, text, received_at)
       SELECT '${inbox}-' || printf('%08d', i), 'SMS', 'abcdefghijklmnop', '+15550000000', 1,
              'retention probe ' || i, i
         FROM n`,
    ).run({ rows: N });
  };
  fill('deliveries', 'inbox');
  // the same rows again, in tables of the same shape and indexes that nothing else uses
  db.exec(`CREATE TABLE deliveries_period AS SELECT * FROM deliveries WHERE 0;
           CREATE UNIQUE INDEX deliveries_period_id ON deliveries_period (id);
           CREATE TABLE inbox_period AS SELECT * FROM inbox WHERE 0;
           CREATE UNIQUE INDEX inbox_period_id ON inbox_period (id);
           CREATE INDEX inbox_period_by_received ON inbox_period (received_at, seq);`);
  fill('deliveries_period', 'inbox_period');
  const walFrames = () => {
    try {
      return Math.round(statSync(join(dir, 'device.db-wal')).size / FRAME_BYTES);
    } catch {
      return 0;
    }
  };
  db.pragma('wal_checkpoint(TRUNCATE)');

  const purger = new RetentionPurger({
    db,
    clock: { now: () => N + DAY_MS + 10, setTimeout: () => null, clearTimeout: () => {} },
    retention: () => ({ webhookLog: 1, messages: 1, logs: 1 }),
    messages: { purgeFinished: () => 0 },
    timeScale: 1,
    onError: (error) => {
      throw error;
    },
  });
  const purged = await purger.purge();
  const held = purger.threadBatches;
  await purger.stop();
  const purgeFrames = walFrames();
  console.log(
    `the purge, row by row: ${purged.deliveries} deliveries and ${purged.received} received messages; its batches took ${held.ms.toFixed(1)} ms on its thread in ${held.count} batches (${((held.ms * 1000) / N).toFixed(1)} µs per SMS, ${(held.ms / held.count).toFixed(3)} ms a batch); ${purgeFrames} WAL frames (${(purgeFrames / N).toFixed(2)} per SMS)`,
  );

  db.pragma('wal_checkpoint(TRUNCATE)');
  const started = performance.now();
  db.exec('DROP TABLE deliveries_period; DROP TABLE inbox_period;');
  const dropMs = performance.now() - started;
  const dropFrames = walFrames();
  console.log(
    `the same rows dropped whole: ${dropMs.toFixed(1)} ms in one block (${((dropMs * 1000) / N).toFixed(2)} µs per SMS); ${dropFrames} WAL frames (${(dropFrames / N).toFixed(3)} per SMS)`,
  );
} finally {
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
