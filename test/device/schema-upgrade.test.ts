import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase } from '../../src/device/store/database.ts';
import { openMigratedSqlite } from '../../src/shared/sqlite.ts';
import { tempDir } from '../helpers/device.ts';

test('the upgrade that rewrites the inbox and log CHECKs keeps every received message, attachment and log line, and the CHECKs still hold', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'device.db');
    // the schema just before device migration 0020
    const old = openMigratedSqlite(file, MIGRATIONS.slice(0, 19), 'device');
    old.exec(`
      INSERT INTO inbox (seq, id, type, message_id, sender, recipient, sim_number, text, data, port, transaction_id,
                         subject, size, content_class, pending_download, received_at) VALUES
        (1, 'i1', 'SMS', 'm1', '+15550100001', NULL, 1, 'hello', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100),
        (2, 'i2', 'DATA_SMS', 'm2', '+15550100002', '+15550100009', 2, NULL, x'00ff', 53739, NULL, NULL, NULL, NULL, NULL, 200),
        (3, 'i3', 'MMS', 'm3', '+15550100003', NULL, NULL, NULL, NULL, NULL, 'tx3', 'pics', 2048, 'image', '{"parts":1}', 300),
        (7, 'i7', 'MMS_DOWNLOADED', 'm3', '+15550100003', NULL, NULL, 'see', NULL, NULL, 'tx3', 'pics', 2048, NULL, NULL, 400);
      INSERT INTO inbox_attachments (inbox_seq, part_id, content_type, name, data) VALUES
        (7, 0, 'image/png', 'a.png', x'89504e47'), (7, 1, 'text/plain', NULL, x'6869');
      INSERT INTO log_entries (created_at, priority, module, message, context) VALUES
        (1, 'INFO', 'gateway', 'one', NULL), (2, 'WARN', 'gateway', 'two', '{"k":1}'), (3, 'ERROR', 'sms', 'three', NULL);
      -- retention removed the newest line: its id must not be given again
      DELETE FROM log_entries WHERE id = 3;
    `);
    const inboxBefore = old.prepare('SELECT * FROM inbox ORDER BY seq').all();
    const attachmentsBefore = old.prepare('SELECT * FROM inbox_attachments ORDER BY inbox_seq, part_id').all();
    const logBefore = old.prepare('SELECT * FROM log_entries ORDER BY id').all();
    old.close();

    const db = openDatabase(file);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.deepEqual(db.prepare('SELECT * FROM inbox ORDER BY seq').all(), inboxBefore);
      assert.deepEqual(
        db.prepare('SELECT * FROM inbox_attachments ORDER BY inbox_seq, part_id').all(),
        attachmentsBefore,
      );
      assert.deepEqual(db.prepare('SELECT * FROM log_entries ORDER BY id').all(), logBefore);
      assert.deepEqual(db.pragma('foreign_key_check'), [], 'every attachment still points at its message');

      assert.throws(
        () =>
          db
            .prepare(`INSERT INTO inbox (id, type, message_id, sender, received_at) VALUES ('x', 'FAX', 'm', 's', 1)`)
            .run(),
        /CHECK constraint failed/,
        'a type outside the four is refused as before',
      );
      assert.throws(
        () =>
          db
            .prepare(`INSERT INTO inbox (id, type, message_id, sender, received_at) VALUES ('x', 'MMS', 'm', 's', 1)`)
            .run(),
        /CHECK constraint failed/,
        'an MMS without its transaction id is refused as before',
      );
      assert.throws(
        () => db.prepare(`INSERT INTO inbox_attachments VALUES (99, 0, 'image/png', NULL, x'00')`).run(),
        /FOREIGN KEY/,
        'attachments still point at the inbox',
      );
      assert.throws(
        () =>
          db
            .prepare(`INSERT INTO log_entries (created_at, priority, module, message) VALUES (4, 'TRACE', 'm', 'x')`)
            .run(),
        /CHECK constraint failed/,
        'a priority outside the four is refused as before',
      );
      const next = db
        .prepare(`INSERT INTO log_entries (created_at, priority, module, message) VALUES (4, 'DEBUG', 'm', 'four')`)
        .run();
      assert.equal(next.lastInsertRowid, 4, 'the log goes on after the highest id it ever gave, removed or not');
    } finally {
      db.close();
    }
  } finally {
    dir.remove();
  }
});
