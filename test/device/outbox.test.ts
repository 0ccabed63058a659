import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase } from '../../src/device/store/database.ts';
import { openMigratedSqlite } from '../../src/shared/sqlite.ts';
import { Outbox, type AttemptResult, type ClaimedDelivery } from '../../src/device/store/outbox.ts';
import { RetryPolicy } from '../../src/device/dispatch/retry-policy.ts';
import { DeviceStats } from '../../src/device/store/stats.ts';
import { tempDir } from '../helpers/device.ts';

const target = (n: number) => ({
  source: 'Local' as const,
  webhookId: `hook-${n}`,
  url: `https://example.com/${n}`,
  envelopeDeviceId: 'dev-1',
});
/** Retries due at once (time scale 0) within a budget of `retryCount`: the device's own rule. */
const retries = (retryCount: number) => new RetryPolicy({ retryCount: () => retryCount, timeScale: 0 });
/** A schedule that never gives up, with retries due when `at` says. */
const retryAt = (at: (r: AttemptResult) => number) => ({ retryAt: at });
const result = (delivery: ClaimedDelivery, ok: boolean, at = 1000): AttemptResult => ({
  delivery,
  startedAt: at,
  durationMs: 5,
  ok,
  status: ok ? 200 : 500,
  error: ok ? null : 'HTTP 500',
  responsePreview: '',
});

function fixture() {
  const dir = tempDir();
  const file = join(dir.path, 'device.db');
  const db = openDatabase(file);
  return { dir, file, db, outbox: new Outbox(db) };
}

test('event and delivery ids keep the wire shape and sort in the order they were made, so inserts append to the id index', () => {
  const { db, outbox, dir } = fixture();
  try {
    const made: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { eventId, deliveryIds } = outbox.enqueue('sms:received', { n: i } as never, [target(1), target(2)], 1000);
      made.push(eventId, ...deliveryIds);
    }
    for (const id of made) assert.match(id, /^[A-Za-z0-9_-]{21}$/, `${id} has the shape of every id on the wire`);
    const sorted = [...made].sort();
    assert.deepEqual(sorted, made, 'ids sort (as SQLite compares them: bytewise) in the order they were made');
    assert.equal(new Set(made).size, made.length, 'no id repeats');
  } finally {
    db.close();
    dir.remove();
  }
});

test('an event and its deliveries are one transaction, bodies are the exact envelope', () => {
  const { db, outbox, dir } = fixture();
  try {
    const { eventId, deliveryIds } = outbox.enqueue(
      'sms:received',
      { messageId: 'm', message: 'hé "quoted"', phoneNumber: '+1', simNumber: null, receivedAt: 't' },
      [target(1), target(2)],
      1000,
    );
    assert.equal(deliveryIds.length, 2);
    const body = JSON.parse(outbox.getDelivery(deliveryIds[0])!.body);
    assert.deepEqual(body, {
      deviceId: 'dev-1',
      event: 'sms:received',
      id: deliveryIds[0],
      payload: { messageId: 'm', message: 'hé "quoted"', phoneNumber: '+1', simNumber: null, receivedAt: 't' },
      webhookId: 'hook-1',
    });
    assert.equal(outbox.getDelivery(deliveryIds[0])!.eventId, eventId);
    assert.equal(outbox.getDelivery(deliveryIds[1])!.eventId, eventId, 'both deliveries carry the one event id');

    // An event that no webhook wants writes nothing, and still has an id of its own.
    const unwanted = outbox.enqueue('sms:sent', {}, [], 1000);
    assert.deepEqual(unwanted.deliveryIds, []);
    assert.notEqual(unwanted.eventId, eventId);

    // A failure inside the caller's transaction rolls back the event and all its deliveries.
    assert.throws(() =>
      db.transaction(() => {
        outbox.enqueue('sms:sent', {}, [target(3)], 1000);
        throw new Error('caller failed');
      })(),
    );
    assert.equal((db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n, 2);
  } finally {
    db.close();
    dir.remove();
  }
});

test('the upgrade that moves the event id onto its deliveries keeps every delivery, attempt and success, and drops the events table', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'device.db');
    // the schema just before device migration 0017, with what a device of that version had written
    const old = openMigratedSqlite(file, MIGRATIONS.slice(0, 16), 'device');
    old.exec(`
      INSERT INTO events (seq, id, event, payload, created_at) VALUES (1, 'event-1', 'sms:received', '{}', 10),
                                                                  (2, 'event-2', 'sms:sent', '{}', 20),
                                                                  (3, 'event-unwanted', 'sms:delivered', '{}', 30);
      INSERT INTO deliveries (seq, id, event_seq, event, webhook_source, webhook_id, url, body, state, attempts,
                              next_attempt_at, created_at, updated_at, last_status, success_started_at,
                              success_duration_ms, success_response_preview)
        VALUES (1, 'd1', 1, 'sms:received', 'Local', 'w1', 'http://127.0.0.1:1/', '{"a":1}', 'succeeded', 1, 10, 10, 11, 200, 10, 4, 'ok'),
               (2, 'd2', 1, 'sms:received', 'Cloud', 'w2', 'http://127.0.0.1:2/', '{"a":2}', 'failed', 2, 10, 10, 15, 500, NULL, NULL, NULL),
               (3, 'd3', 2, 'sms:sent', 'Local', 'w1', 'http://127.0.0.1:1/', '{"a":3}', 'pending', 0, 20, 20, 20, NULL, NULL, NULL, NULL);
      INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status, error) VALUES (2, 1, 10, 3, 500, 'HTTP 500'), (2, 2, 12, 3, 500, 'HTTP 500');
    `);
    // a delivery whose event is gone, which only a file edited with foreign keys off can hold: it is kept too
    old.pragma('foreign_keys = OFF');
    old.exec(`INSERT INTO deliveries (seq, id, event_seq, event, webhook_source, webhook_id, url, body, state, attempts,
                                      next_attempt_at, created_at, updated_at)
                VALUES (4, 'd4', 99, 'sms:sent', 'Local', 'w1', 'http://127.0.0.1:1/', '{"a":4}', 'failed', 1, 30, 30, 31)`);
    old.close();

    const db = openDatabase(file);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      const outbox = new Outbox(db);
      const d1 = outbox.getDelivery('d1')!;
      assert.equal(d1.eventId, 'event-1');
      assert.equal(d1.body, '{"a":1}');
      assert.deepEqual(
        d1.attemptLog.map((attempt) => [attempt.number, attempt.status, attempt.durationMs]),
        [[1, 200, 4]],
        'a success kept on the row survives',
      );
      const d2 = outbox.getDelivery('d2')!;
      assert.equal(d2.eventId, 'event-1');
      assert.equal(d2.webhookSource, 'Cloud');
      assert.deepEqual(
        d2.attemptLog.map((attempt) => [attempt.number, attempt.error]),
        [
          [1, 'HTTP 500'],
          [2, 'HTTP 500'],
        ],
      );
      assert.equal(outbox.getDelivery('d3')!.eventId, 'event-2');
      assert.equal(outbox.getDelivery('d4')!.eventId, 'd4', 'its own id stands for the missing event');
      assert.deepEqual(
        outbox.claimDue(1_000, 10).map((due) => due.id),
        ['d3'],
        'the pending one is still due',
      );
      assert.equal(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'events'`).get(), undefined);
      assert.throws(
        () =>
          db.prepare('INSERT INTO attempts (delivery_seq, number, started_at, duration_ms) VALUES (99, 1, 1, 1)').run(),
        /FOREIGN KEY/,
        'attempts still point at the deliveries',
      );
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  } finally {
    dir.remove();
  }
});

test('the upgrade that rewrites the state CHECK and the late-finish index keeps every delivery and attempt, and the CHECK still holds', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'device.db');
    // the schema just before device migration 0018
    const old = openMigratedSqlite(file, MIGRATIONS.slice(0, 17), 'device');
    const columns = `seq, id, event_id, event, webhook_source, webhook_id, url, body, state, attempts, attempts_before_redeliver,
                     next_attempt_at, created_at, updated_at, last_status, last_error, success_started_at,
                     success_duration_ms, success_response_preview`;
    old.exec(`
      INSERT INTO deliveries (${columns}) VALUES
        (1, 'd1', 'e1', 'sms:received', 'Local', 'w1', 'http://127.0.0.1:1/', '{"a":1}', 'succeeded', 1, 0, 10, 10, 11, 200, NULL, 10, 4, 'ok'),
        (2, 'd2', 'e1', 'sms:received', 'Cloud', 'w2', 'http://127.0.0.1:2/', '{"a":2}', 'failed', 2, 0, 10, 10, 700000, 500, 'HTTP 500', NULL, NULL, NULL),
        (3, 'd3', 'e2', 'sms:sent', 'Local', 'w1', 'http://127.0.0.1:1/', '{"a":3}', 'pending', 0, 0, 20, 20, 20, NULL, NULL, NULL, NULL, NULL),
        (4, 'd4', 'e3', 'sms:sent', 'Local', 'w3', 'http://127.0.0.1:3/', '{"a":4}', 'cancelled', 0, 0, 30, 30, 31, NULL, 'webhook deleted', NULL, NULL, NULL),
        (5, 'd5', 'e3', 'sms:sent', 'Local', 'w1', 'http://127.0.0.1:1/', '{"a":5}', 'sending', 1, 0, 30, 30, 30, NULL, NULL, NULL, NULL, NULL);
      INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status, error) VALUES (2, 1, 10, 3, 500, 'HTTP 500'), (2, 2, 12, 3, 500, 'HTTP 500');
    `);
    const before = old.prepare(`SELECT ${columns} FROM deliveries ORDER BY seq`).all();
    const attemptsBefore = old.prepare('SELECT * FROM attempts ORDER BY seq').all();
    old.close();

    const db = openDatabase(file);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.deepEqual(db.prepare(`SELECT ${columns} FROM deliveries ORDER BY seq`).all(), before);
      assert.deepEqual(db.prepare('SELECT * FROM attempts ORDER BY seq').all(), attemptsBefore);
      assert.throws(
        () => db.prepare(`UPDATE deliveries SET state = 'delivered' WHERE seq = 3`).run(),
        /CHECK constraint failed/,
        'a state outside the five is refused as before',
      );
      assert.throws(
        () =>
          db.prepare('INSERT INTO attempts (delivery_seq, number, started_at, duration_ms) VALUES (99, 1, 1, 1)').run(),
        /FOREIGN KEY/,
        'attempts still point at the deliveries',
      );
      // the failed delivery took 700 s from creation to its end: the late-finish index holds it, and only it
      const late = db
        .prepare(
          `SELECT id FROM deliveries INDEXED BY deliveries_finished_late
            WHERE state NOT IN ('pending', 'sending') AND updated_at - created_at > 600000 AND updated_at >= 0`,
        )
        .pluck()
        .all();
      assert.deepEqual(late, ['d2']);
      const outbox = new Outbox(db);
      outbox.releaseInFlight(1_000);
      assert.deepEqual(
        outbox.claimDue(1_000, 10).map((due) => due.id),
        ['d3', 'd5'],
        'the pending one and the one left in flight are due',
      );
      assert.equal(
        outbox.enqueue('sms:received', {}, [target(1)], 2_000).deliveryIds.length,
        1,
        'new deliveries go in',
      );
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  } finally {
    dir.remove();
  }
});

test('a claim is exclusive and writes nothing: the row stays pending with the attempt uncounted until its result', () => {
  const { db, outbox, dir } = fixture();
  try {
    const targets = Array.from({ length: 50 }, (_, i) => target(i));
    outbox.enqueue('sms:received', {}, targets, 1000);
    const a = outbox.claimDue(1000, 30);
    const b = outbox.claimDue(1000, 30);
    assert.deepEqual([a.length, b.length], [30, 20]);
    assert.equal(new Set([...a, ...b].map((d) => d.id)).size, 50, 'no delivery claimed twice');
    assert.deepEqual(outbox.claimDue(1000, 10), [], 'nothing left to claim');
    const stored = db.prepare(`SELECT state, attempts, count(*) AS n FROM deliveries GROUP BY state, attempts`).all();
    assert.deepEqual(
      stored,
      [{ state: 'pending', attempts: 0, n: 50 }],
      'the file says pending, as a crash would leave it',
    );
    assert.deepEqual(outbox.countByState(), { pending: 0, sending: 50, succeeded: 0, failed: 0, cancelled: 0 });
    assert.equal(outbox.getDelivery(a[0].id)!.state, 'sending');
    assert.equal(outbox.listDeliveries({ state: 'sending', limit: 100 }).length, 50);
    assert.equal(outbox.listDeliveries({ state: 'pending', limit: 100 }).length, 0);
    outbox.recordAttempts(
      a.map((d) => result(d, true)),
      retries(14),
      1001,
    );
    assert.deepEqual(outbox.countByState(), { pending: 0, sending: 20, succeeded: 30, failed: 0, cancelled: 0 });
  } finally {
    db.close();
    dir.remove();
  }
});

test('transitions are guarded: a stale result is ignored, the budget decides failed, redeliver restarts it', () => {
  const { db, outbox, dir } = fixture();
  try {
    outbox.enqueue('sms:received', {}, [target(1)], 0);
    const rule = retries(2); // due again as soon as an attempt ends, to walk the budget quickly
    const later = 2000; // after every attempt below has ended
    let [d] = outbox.claimDue(0, 1);
    assert.deepEqual([d.attempt, d.retriesSoFar], [1, 0]);
    assert.deepEqual(outbox.claimDue(0, 1), [], 'a sending delivery is not claimed again');

    outbox.recordAttempts([result(d, false)], rule, 0);
    outbox.recordAttempts([result(d, true)], rule, 0); // the same attempt reported twice: ignored
    assert.equal(outbox.getDelivery(d.id)!.state, 'pending');
    assert.equal(outbox.getDelivery(d.id)!.attemptLog.length, 1);

    [d] = outbox.claimDue(later, 1);
    assert.deepEqual([d.attempt, d.retriesSoFar], [2, 1]);
    outbox.recordAttempts([result(d, false)], rule, 0);
    [d] = outbox.claimDue(later, 1);
    outbox.recordAttempts([result(d, false)], rule, 0);
    assert.equal(outbox.getDelivery(d.id)!.state, 'failed', 'retry_count=2: three attempts, then failed');
    assert.deepEqual(outbox.claimDue(later, 1), []);

    assert.equal(outbox.redeliver(d.id, 5), true);
    [d] = outbox.claimDue(5, 1);
    assert.deepEqual([d.attempt, d.retriesSoFar], [4, 0], 'numbering goes on, the backoff starts over');
    assert.equal(outbox.redeliver(d.id, 5), false, 'not while it is being sent');
    outbox.recordAttempts([result(d, true)], rule, 5);
    assert.equal(outbox.getDelivery(d.id)!.state, 'succeeded');
  } finally {
    db.close();
    dir.remove();
  }
});

test('a success stays on its delivery row: no attempt row, yet the log, a redeliver and the stats show it', () => {
  const { db, outbox, dir } = fixture();
  try {
    const attemptRows = () => (db.prepare('SELECT count(*) AS n FROM attempts').get() as { n: number }).n;
    outbox.enqueue('sms:received', {}, [target(1)], 0);
    const rule = retries(3);
    let [d] = outbox.claimDue(0, 1);
    outbox.recordAttempts([result(d, false, 100)], rule, 0);
    [d] = outbox.claimDue(2000, 1);
    outbox.recordAttempts([{ ...result(d, true, 200), durationMs: 7, responsePreview: 'thanks' }], rule, 0);
    assert.equal(attemptRows(), 1, 'only the failed attempt is a row of attempts');
    assert.deepEqual(
      outbox.getDelivery(d.id)!.attemptLog,
      [
        { number: 1, startedAt: 100, durationMs: 5, status: 500, error: 'HTTP 500', responsePreview: '' },
        { number: 2, startedAt: 200, durationMs: 7, status: 200, error: null, responsePreview: 'thanks' },
      ],
      'the log shows the failure, then the success read from the row',
    );

    const stats = new DeviceStats(db).read({ since: 0, until: 10_000, bucketMs: 60_000, failingLimit: 5 });
    assert.deepEqual(
      stats.attempts.map((b) => [b.succeeded, b.retried, b.failed]),
      [[1, 1, 0]],
      'the stats count the success and the retried failure',
    );

    assert.equal(outbox.redeliver(d.id, 3000), true);
    assert.equal(attemptRows(), 2, 'queued again, the success joined the other attempts');
    [d] = outbox.claimDue(3000, 1);
    outbox.recordAttempts([result(d, true, 3000)], rule, 3000);
    assert.deepEqual(
      outbox.getDelivery(d.id)!.attemptLog.map((a) => [a.number, a.startedAt, a.status]),
      [
        [1, 100, 500],
        [2, 200, 200],
        [3, 3000, 200],
      ],
      'both successes are in the log, once each',
    );

    // a delivery that succeeded before migration 0014 has its success as a row, and nothing on its own row
    outbox.enqueue('sms:received', {}, [target(2)], 0);
    const [old] = outbox.claimDue(4000, 1);
    outbox.recordAttempts([result(old, true, 4000)], rule, 4000);
    db.prepare(
      `UPDATE deliveries SET success_started_at = NULL, success_duration_ms = NULL, success_response_preview = NULL WHERE id = ?`,
    ).run(old.id);
    db.prepare(
      `INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status) VALUES (?, 1, 4000, 5, 200)`,
    ).run(old.seq);
    assert.deepEqual(
      outbox.getDelivery(old.id)!.attemptLog.map((a) => [a.number, a.startedAt, a.status]),
      [[1, 4000, 200]],
      'an older success is listed once',
    );
  } finally {
    db.close();
    dir.remove();
  }
});

test('in-flight deliveries are released after a crash without spending their attempt', () => {
  const { db, outbox, dir } = fixture();
  try {
    outbox.enqueue('sms:received', {}, [target(1), target(2)], 0);
    const claimed = outbox.claimDue(0, 2);
    assert.equal(claimed.length, 2);
    assert.equal(outbox.releaseInFlight(100), 2);
    const again = outbox.claimDue(100, 2);
    assert.deepEqual(
      again.map((d) => d.attempt),
      [1, 1],
    );
    outbox.recordAttempts(
      claimed.map((d) => result(d, true)),
      retries(14),
      100,
    );
    assert.equal(
      outbox.getDelivery(claimed[0].id)!.attemptLog.length,
      1,
      'the late result of the lost claim is still the first attempt',
    );
  } finally {
    db.close();
    dir.remove();
  }
});

test('retries are ordered by due time; nextDueAfter reports the earliest still to come', () => {
  const { db, outbox, dir } = fixture();
  try {
    outbox.enqueue('sms:received', {}, [target(1), target(2)], 0);
    const [a, b] = outbox.claimDue(0, 2);
    outbox.recordAttempts(
      [result(a, false), result(b, false)],
      retryAt((r) => (r.delivery.id === a.id ? 500 : 300)),
      0,
    );
    assert.equal(outbox.nextDueAfter(0), 300, 'the earlier retry');
    assert.equal(outbox.nextDueAfter(300), 500, 'one due at 300 is no longer to come at 300');
    assert.equal(outbox.nextDueAfter(500), null, 'none after the last');
    assert.deepEqual(outbox.claimDue(299, 5), []);
    assert.deepEqual(
      outbox.claimDue(1000, 1).map((d) => d.id),
      [b.id],
      'with room for one, the earliest due goes first',
    );
    assert.deepEqual(
      outbox.claimDue(1000, 1).map((d) => d.id),
      [a.id],
    );
  } finally {
    db.close();
    dir.remove();
  }
});

test('a page of due deliveries goes on from a place in the due order and leaves out the claimed ones', () => {
  const { db, outbox, dir } = fixture();
  try {
    for (let i = 0; i < 10; i++) outbox.enqueue('sms:received', { i }, [target(1)], 1000 + i);
    outbox.enqueue('sms:received', { late: true }, [target(1)], 9000);
    const first = outbox.duePage(null, 5000, 4);
    assert.equal(first.read, 4, 'a full page');
    assert.deepEqual(
      first.deliveries.map((d) => d.dueAt),
      [1000, 1001, 1002, 1003],
      'oldest due first',
    );
    const [taken] = outbox.claimDue(5000, 1);
    assert.equal(taken.id, first.deliveries[0].id, 'the claim takes the oldest');
    const next = outbox.duePage(first.last, 5000, 4);
    assert.deepEqual(
      next.deliveries.map((d) => d.dueAt),
      [1004, 1005, 1006, 1007],
      'the next page starts past the last one read',
    );
    const fromFront = outbox.duePage(null, 5000, 100);
    assert.equal(fromFront.read, 10, 'every due row is read, the claimed one too, not the one due later');
    assert.equal(fromFront.deliveries.length, 9, 'the claimed one is left out');
    assert.ok(
      fromFront.deliveries.every((d) => d.id !== taken.id && d.attempt === 1 && typeof d.body === 'string'),
      'each as an attempt needs it, none of them the claimed one',
    );
  } finally {
    db.close();
    dir.remove();
  }
});
