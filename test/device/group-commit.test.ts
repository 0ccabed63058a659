import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/device/store/database.ts';
import { GroupCommit } from '../../src/shared/group-commit.ts';
import { tempDir } from '../helpers/device.ts';

function setup(maxBatch?: number) {
  const dir = tempDir();
  const file = join(dir.path, 'device.db');
  const db = openDatabase(file);
  // another connection sees only what is committed
  const other = new Database(file, { readonly: true });
  const counts = { committed: 0, rolledBack: 0 };
  const group = new GroupCommit(
    db,
    { committed: () => counts.committed++, rolledBack: () => counts.rolledBack++ },
    maxBatch,
  );
  const put = db.prepare<[string, string]>(`INSERT INTO meta (key, value) VALUES (?, ?)`);
  const committedKeys = () =>
    other.prepare(`SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key`).pluck().all() as string[];
  return {
    db,
    group,
    put,
    counts,
    committedKeys,
    close() {
      other.close();
      db.close();
      dir.remove();
    },
  };
}

test('writes queued in one turn commit together, and each promise settles only after that commit', async () => {
  const t = setup();
  try {
    const writes = ['k1', 'k2', 'k3', 'k4'].map((key) =>
      t.group.run(() => {
        t.put.run(key, 'v');
        return `wrote ${key}`;
      }),
    );
    assert.deepEqual(t.committedKeys(), [], 'nothing is committed before the turn ends');
    const settled = writes.map((write) => write.then((result) => ({ result, seen: t.committedKeys() })));
    const results = await Promise.all(settled);
    assert.deepEqual(
      results.map((r) => r.result),
      ['wrote k1', 'wrote k2', 'wrote k3', 'wrote k4'],
      'each caller gets its own write’s result',
    );
    for (const { seen } of results) assert.deepEqual(seen, ['k1', 'k2', 'k3', 'k4'], 'committed before it settled');
    assert.equal(t.counts.committed, 1, 'one commit for the four');

    await t.group.run(() => t.put.run('k5', 'v'));
    assert.equal(t.counts.committed, 2, 'a write of a later turn gets a commit of its own');
  } finally {
    t.close();
  }
});

test('a write that throws fails alone: the rest of its batch is committed', async () => {
  const t = setup();
  try {
    const outcomes = await Promise.allSettled([
      t.group.run(() => t.put.run('k1', 'v')),
      t.group.run(() => {
        t.put.run('k2', 'v');
        throw new Error('this one is refused');
      }),
      t.group.run(() => t.put.run('k3', 'v')),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /this one is refused/);
    assert.deepEqual(t.committedKeys(), ['k1', 'k3'], 'the refused write left nothing behind');
    assert.ok(t.counts.rolledBack >= 2, 'the batch and the refused write were rolled back');
  } finally {
    t.close();
  }
});

test('a burst queued at once commits in batches of at most maxBatch', async () => {
  const t = setup(128);
  try {
    const writes = [];
    for (let i = 0; i < 300; i++) writes.push(t.group.run(() => t.put.run(`k${String(i).padStart(3, '0')}`, 'v')));
    assert.equal(t.counts.committed, 2, 'two full batches committed while the burst was queued');
    await Promise.all(writes);
    assert.equal(t.counts.committed, 3, 'the rest at the end of the turn');
    assert.equal(t.committedKeys().length, 300);
  } finally {
    t.close();
  }
});

test('a committed hook that throws fails its callers but keeps what was committed, and the process goes on', async () => {
  const t = setup();
  try {
    let fail = true;
    const group = new GroupCommit(t.db, {
      committed: () => {
        if (fail) throw new Error('a listener broke');
      },
      rolledBack: () => {},
    });
    const outcomes = await Promise.allSettled([
      group.run(() => t.put.run('k1', 'v')),
      group.run(() => t.put.run('k2', 'v')),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected'],
    );
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /a listener broke/);
    assert.deepEqual(t.committedKeys(), ['k1', 'k2'], 'the writes stay committed');
    fail = false;
    await group.run(() => t.put.run('k3', 'v'));
    assert.deepEqual(t.committedKeys(), ['k1', 'k2', 'k3'], 'later writes go on as usual');
  } finally {
    t.close();
  }
});
