import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/common.ts';
import { jumpingClock } from '../helpers/clock.ts';
import { opcodesOf, planOf, sourcesPreparedDuring, tablesBuildingTreesPerRow } from '../helpers/query-plan.ts';
import { openDatabase } from '../../src/device/store/database.ts';
import { MessageStore } from '../../src/device/store/messages.ts';
import { DeviceStats } from '../../src/device/store/stats.ts';
import { Outbox } from '../../src/device/store/outbox.ts';
import { InboxStore } from '../../src/device/store/inbox.ts';
import { DeviceLog } from '../../src/device/store/logs.ts';
import { PURGE_SQL } from '../../src/device/store/retention.ts';

/**
 * The reads the send queue and the server link make after every message must find their few rows
 * through an index of those rows alone: walking every waiting message, or every message kept, made
 * each message cost more as the queue or the history grew.
 */
const EXPECTED: [RegExp, RegExp][] = [
  [/state = 'Pending' AND valid_until <= \?/, /USING (COVERING )?INDEX messages_pending_expiry/],
  [/min\(valid_until\)/, /USING (COVERING )?INDEX messages_pending_expiry/],
  [/min\(schedule_at\)/, /USING (COVERING )?INDEX messages_pending_schedule/],
  // the message the carrier has, finished before the next is taken: no sort, even of a few
  [/WHERE state = 'Processed'/, /^SCAN messages USING INDEX messages_processed$/],
  [/reported_at IS NULL ORDER BY updated_at/, /USING (COVERING )?INDEX messages_unreported/],
  // the next message to send: an index walked in the queue's order, no sort of the whole queue
  [/priority DESC, created_at DESC, rowid DESC LIMIT 1/, /^SCAN messages USING INDEX messages_queue$/],
  [/priority DESC, created_at ASC, rowid ASC LIMIT 1/, /^SCAN messages USING INDEX messages_queue_fifo$/],
];

test('the queue and the link read waiting and unreported messages through their partial indexes', async () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const sources = await sourcesPreparedDuring(() => new MessageStore(db));
    for (const [statement, plan] of EXPECTED) {
      const source = [...sources].find((s) => statement.test(s));
      assert.ok(source, `no prepared statement matches ${statement}`);
      const detail = planOf(db, source).join(' | ');
      assert.match(detail, plan, `${source}\n  plans as: ${detail}`);
    }
  } finally {
    db.close();
    dir.remove();
  }
});

test('acknowledging a state report of 50 messages is one commit: a few WAL frames, not 50', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const messages = new MessageStore(db);
    for (let i = 0; i < 50; i++) {
      messages.insert({
        id: `cloud-${i}`,
        source: 'Cloud',
        text: 'hi',
        dataPort: null,
        simNumber: null,
        withDeliveryReport: true,
        validUntil: null,
        scheduleAt: null,
        priority: 0,
        isEncrypted: false,
        createdAt: 1000 + i,
        phoneNumbers: ['+15550102000'],
      });
    }
    const seen = messages.unreportedCloud(100);
    assert.equal(seen.length, 50, 'the 50 Cloud messages are unreported');
    const frames = () => (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0].log;
    db.pragma('wal_checkpoint(TRUNCATE)');
    assert.equal(frames(), 0, 'the WAL starts empty');
    messages.markReported(seen, 2000);
    assert.ok(frames() < 25, `acknowledging 50 wrote ${frames()} WAL frames`);
    assert.equal(messages.unreportedCloud(100).length, 0, 'all 50 are acknowledged');
  } finally {
    db.close();
    dir.remove();
  }
});

test('no write the device makes as it works builds a temporary b-tree: messages, the inbox and the log as well as deliveries', async () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const sources = await sourcesPreparedDuring(() => {
      new Outbox(db);
      new MessageStore(db);
      new InboxStore(db);
      new DeviceLog(db, jumpingClock(0), () => {});
    });
    // RETURNING gathers its rows in a temporary table by design; those statements (deleting a
    // webhook, claiming a batch) run once per call, not once per row
    const writes = [...sources].filter((s) => /^\s*(INSERT|UPDATE|DELETE)\b/.test(s) && !/RETURNING/.test(s));
    // of deliveries: the intake's INSERT, and the UPDATEs of a success, a failure, a redeliver and a release
    const deliveryWrites = writes.filter((s) => /^\s*(INSERT INTO|UPDATE) deliveries\b/.test(s));
    assert.equal(deliveryWrites.length, 5, deliveryWrites.join('\n---\n'));
    for (const table of ['deliveries', 'messages', 'message_recipients', 'inbox', 'log_entries']) {
      assert.ok(
        writes.some((s) => new RegExp(`^\\s*(INSERT INTO|UPDATE|DELETE FROM) ${table}\\b`).test(s)),
        `no write of ${table} was prepared`,
      );
    }
    const ephemeral = writes.filter((source) => opcodesOf(db, source).includes('OpenEphemeral'));
    assert.deepEqual(ephemeral, [], 'these build a temporary b-tree each time they run');
  } finally {
    db.close();
    dir.remove();
  }
});

test("no table of the device's schema has a CHECK or a partial index that builds a temporary b-tree for each row written", () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    assert.deepEqual(tablesBuildingTreesPerRow(db), []);
  } finally {
    db.close();
    dir.remove();
  }
});

test("the Overview's aggregates read the hour or day asked for through indexes, never every delivery or attempt kept", () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const statements = Object.entries(
      (new DeviceStats(db) as unknown as { statements: Record<string, Database.Statement> }).statements,
    );
    assert.equal(
      statements.length,
      6,
      'attempts, messages, queue moves, failing webhooks, and the two lookups of the seq range',
    );
    for (const [name, statement] of statements) {
      const detail = planOf(db, statement.source);
      // a whole-table read shows as SCAN of the table or its alias (a, d); CTEs and subqueries are fine
      const wholeTable = detail.filter((step) => /^SCAN (deliveries|attempts|messages|a|d)\b/.test(step));
      assert.deepEqual(wholeTable, [], `${name} plans as: ${detail.join(' | ')}`);
    }
    // deliveries are found by a range of seq, and those that finished late through their own index
    const deliveryReads = Object.fromEntries(
      statements.map(([name, statement]) => [
        name,
        planOf(db, statement.source).filter((step) => /^SEARCH deliveries\b/.test(step)),
      ]),
    );
    for (const name of ['attempts', 'queueMoves']) {
      assert.ok(
        deliveryReads[name].includes('SEARCH deliveries USING INTEGER PRIMARY KEY (rowid>?)'),
        `${name}: ${deliveryReads[name].join(' | ')}`,
      );
      assert.ok(
        deliveryReads[name].some((step) => step.startsWith('SEARCH deliveries USING INDEX deliveries_finished_late')),
        `${name}: ${deliveryReads[name].join(' | ')}`,
      );
    }
  } finally {
    db.close();
    dir.remove();
  }
});

test("deleting a webhook walks the pending deliveries' index, which holds each one's webhook, not every delivery kept", () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const { source } = (new Outbox(db) as unknown as { statements: Record<string, Database.Statement> }).statements
      .cancelForWebhook;
    assert.deepEqual(planOf(db, source), ['SCAN deliveries USING INDEX deliveries_pending'], source);
  } finally {
    db.close();
    dir.remove();
  }
});

/** The retention purge's statements, by name, prepared here (its thread prepares them on its own connection). */
function purgeStatements(db: ReturnType<typeof openDatabase>): Record<string, Database.Statement> {
  return Object.fromEntries(Object.entries(PURGE_SQL).map(([name, text]) => [name, db.prepare(text)]));
}

test('the purge finds the first delivery it must keep by walking from the oldest, not by sorting every one created since', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const { source } = purgeStatements(db).firstSeqCreatedSince;
    assert.deepEqual(planOf(db, source), ['SCAN deliveries'], source);
  } finally {
    db.close();
    dir.remove();
  }
});

test('every other statement of the purge finds its rows by a key, and a batch deletes by a range of seq', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const statements = Object.entries(purgeStatements(db));
    // the walk from the oldest row, which stops at the first row it must keep
    const walks = ['firstSeqCreatedSince'];
    // a batch's deletes read only its range: by rowid, not by an index on time that covers every expired row
    const byRange: Record<string, string> = {
      deleteAttemptsInRange: 'SEARCH deliveries USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)',
      deleteDeliveriesInRange: 'SEARCH deliveries USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)',
    };
    assert.ok(statements.length >= 6, `${statements.length} statements`);
    for (const [name, statement] of statements.filter(([name]) => !walks.includes(name))) {
      const detail = planOf(db, statement.source);
      const wholeTable = detail.filter((step) => /^SCAN (deliveries|attempts|inbox|inbox_attachments|d)\b/.test(step));
      assert.deepEqual(wholeTable, [], `${name} plans as: ${detail.join(' | ')}`);
      if (byRange[name]) assert.ok(detail.includes(byRange[name]), `${name} plans as: ${detail.join(' | ')}`);
    }
  } finally {
    db.close();
    dir.remove();
  }
});
