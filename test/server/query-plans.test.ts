import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/common.ts';
import { planOf, sourcesPreparedDuring, tablesBuildingTreesPerRow } from '../helpers/query-plan.ts';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';

/**
 * Every statement the SQLite server store prepares, with its plan: a statement that reads a whole
 * table grows with the table, so each one that does must be on this list, on purpose.
 */
const WHOLE_TABLE_READS: Record<string, RegExp> = {
  // the admin command's list of every user
  users: /FROM users ORDER BY created_at, login/,
  // the queue-depth metric sums over every device's health report
  devices: /json_extract\(health/,
  // the Overview's window functions run over a CTE holding only the rows the indexed query chose
  ranked: /ROW_NUMBER\(\) OVER \(PARTITION BY bucket/,
  failing: /ROW_NUMBER\(\) OVER \(PARTITION BY d\.webhook_id/,
  // the Overview's queue depth adds up a CTE of one user's deliveries in the window, found by index
  moves: /WITH moves AS/,
  // GET /auth/token: the newest access token of each family, from a CTE of one user's tokens
  n: /FROM newest n JOIN families f/,
};

/** Every statement the store prepares: at open, and those of list filters once used. */
async function preparedStatements(file: string): Promise<string[]> {
  const sources = await sourcesPreparedDuring(async () => {
    const store = openSqliteStore(file);
    try {
      await store.messages.listUserMessages('u', {}, { limit: 1, offset: 0 });
      await store.messages.listUserMessages(
        'u',
        { deviceId: 'd', state: 'Pending', from: 0, to: 1 },
        { limit: 1, offset: 0 },
      );
      await store.messages.listUserMessages('u', { state: 'Sent' }, { limit: 1, offset: 0, order: 'asc' });
      await store.deliveries.listUserDeliveries('u', { limit: 1 });
      await store.deliveries.listUserDeliveries('u', {
        state: 'failed',
        event: 'sms:received',
        webhookId: 'w',
        deviceId: 'd',
        before: 1,
        limit: 1,
      });
    } finally {
      await store.close();
    }
  });
  return [...sources].filter((sql) => /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql));
}

describe('query plans of the SQLite server store', () => {
  const dir = tempDir();
  let db: Database.Database;
  let statements: string[];
  before(async () => {
    const file = join(dir.path, 'plans.db');
    statements = await preparedStatements(file);
    db = new Database(file, { readonly: true });
  });
  after(() => {
    db?.close();
    dir.remove();
  });

  test('no statement reads a whole table, except those listed on purpose', () => {
    assert.ok(statements.length > 40, `the store's statements were seen (${statements.length})`);
    const wholeTableReads: string[] = [];
    for (const sql of statements) {
      for (const step of planOf(db, sql)) {
        const scanned = /^SCAN (\w+)$/.exec(step)?.[1];
        if (scanned && !WHOLE_TABLE_READS[scanned]?.test(sql)) wholeTableReads.push(`${step} in: ${sql.trim()}`);
      }
    }
    assert.deepEqual(wholeTableReads, []);
  });

  test('no table has a CHECK or a partial index that builds a temporary b-tree for each row written', () => {
    // an activity report's every delivery paid one for device_deliveries_finished_by_update (server migration 0013)
    assert.deepEqual(tablesBuildingTreesPerRow(db), []);
  });

  test("a device's state report finds its message through messages_by_device, not by reading every message", () => {
    // the lookup applyStateReport starts with, and the one that finds a final message to hash
    // (src/server/messages/repository.sqlite.ts)
    const lookups = statements.filter((sql) => /FROM messages\s+WHERE device_id = \S+ AND id = /.test(sql));
    assert.equal(lookups.length, 2, 'the statements are there');
    for (const lookup of lookups)
      assert.deepEqual(planOf(db, lookup), ['SEARCH messages USING INDEX messages_by_device (device_id=? AND id=?)']);
  });

  test("the Overview's queue chart and queue depth read one user's deliveries by time or state, not all of them", () => {
    const [moves] = statements.filter((sql) => /WITH moves AS/.test(sql));
    const [depth] = statements.filter((sql) => /COUNT\(\*\) AS depth FROM device_deliveries/.test(sql));
    assert.ok(moves && depth, 'the statements are there');
    const deliveryReads = (sql: string) => planOf(db, sql).filter((step) => / device_deliveries /.test(step));
    assert.deepEqual(deliveryReads(moves), [
      'SEARCH device_deliveries USING COVERING INDEX device_deliveries_by_created (user_id=? AND created_at>? AND created_at<?)',
      'SEARCH device_deliveries USING INDEX device_deliveries_finished_by_update (user_id=? AND updated_at>? AND updated_at<?)',
    ]);
    assert.deepEqual(deliveryReads(depth), [
      'SEARCH device_deliveries USING COVERING INDEX device_deliveries_pending (user_id=?)',
    ]);
  });
});
