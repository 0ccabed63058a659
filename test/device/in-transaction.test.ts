import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '../../src/device/store/database.ts';
import { inTransaction } from '../../src/shared/sqlite.ts';
import { tempDir } from '../helpers/device.ts';

test('inTransaction commits what returns, rolls back what throws, and nests as a savepoint', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const put = db.prepare<[string, string]>(`INSERT INTO meta (key, value) VALUES (?, ?)`);
    const has = (key: string) => db.prepare(`SELECT 1 FROM meta WHERE key = ?`).pluck().get(key) === 1;

    assert.equal(
      inTransaction(db, () => put.run('kept', '1').changes),
      1,
      'the function’s result is returned',
    );
    assert.ok(has('kept'), 'committed');
    assert.equal(db.inTransaction, false, 'no transaction left open');

    assert.throws(
      () =>
        inTransaction(db, () => {
          put.run('dropped', '1');
          throw new Error('the work failed');
        }),
      /the work failed/,
      'the error goes to the caller',
    );
    assert.ok(!has('dropped'), 'rolled back');
    assert.equal(db.inTransaction, false, 'no transaction left open after a failure');

    inTransaction(db, () => {
      put.run('outer', '1');
      assert.throws(
        () =>
          inTransaction(db, () => {
            put.run('inner', '1');
            throw new Error('inner failed');
          }),
        /inner failed/,
        'the inner error goes to its caller',
      );
      assert.ok(db.inTransaction, 'the outer transaction goes on');
    });
    assert.ok(has('outer'), 'the outer work committed');
    assert.ok(!has('inner'), 'the inner work alone was rolled back');

    // a failure the database itself raises (here a duplicate key) rolls back the same way
    assert.throws(
      () =>
        inTransaction(db, () => {
          put.run('twice', '1');
          put.run('twice', '2');
        }),
      /UNIQUE/,
      'the constraint error goes to the caller',
    );
    assert.ok(!has('twice'), 'nothing of it stays');
  } finally {
    db.close();
    dir.remove();
  }
});
