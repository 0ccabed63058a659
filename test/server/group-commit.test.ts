import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from './helpers.ts';
import { GroupCommit } from '../../src/server/store/group-commit.ts';

test('group commit: writes of one turn share a commit, each resolves once committed, and a failing one is rolled back alone', async () => {
  const dir = tempDir();
  const file = join(dir.path, 'group.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL CHECK (label <> ''))");
  // data_version, read on another connection, changes once per commit made by others
  const reader = new Database(file, { readonly: true });
  const commits = () => reader.pragma('data_version', { simple: true }) as number;
  const count = () => (reader.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
  try {
    const writes = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO items (label) VALUES (?) RETURNING id');
    const before = commits();
    const seenAtResolve: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        writes
          .run(() => (insert.get(i === 3 ? '' : `item ${i}`) as { id: number }).id)
          .then((id) => (seenAtResolve.push(count()), id)),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      results.map((_, i) => (i === 3 ? 'rejected' : 'fulfilled')),
    );
    assert.match(String((results[3] as PromiseRejectedResult).reason), /CHECK constraint failed/);
    assert.equal(commits() - before, 1, 'one commit for the ten');
    assert.deepEqual(
      seenAtResolve,
      Array(9).fill(9),
      'every caller resolved after the commit: another connection already saw all nine rows',
    );
    assert.equal(db.inTransaction, false);

    // A later turn is a commit of its own.
    await writes.run(() => insert.get('later'));
    assert.equal(commits() - before, 2);
    assert.equal(count(), 10);
  } finally {
    reader.close();
    db.close();
    dir.remove();
  }
});
