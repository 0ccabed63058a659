import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { openDatabase } from '../../src/device/store/database.ts';
import { inTransaction, writeLockOf } from '../../src/shared/sqlite.ts';
import { LOCK_FREE, LOCK_WORKER, WriteLock } from '../../src/shared/write-lock.ts';
import { tempDir } from '../helpers/common.ts';

/**
 * A second writer on another thread, as the retention purge's thread is: it takes the lock word,
 * opens its own connection, writes a row in a transaction and holds both for `holdMs` before it
 * commits and frees the lock (or, with `release: false`, ends holding the lock).
 */
function otherWriter(file: string, lock: WriteLock, options: { holdMs: number; release?: boolean }): Worker {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.sqlite);
    const word = new Int32Array(workerData.lock);
    if (Atomics.compareExchange(word, 0, ${LOCK_FREE}, ${LOCK_WORKER}) !== ${LOCK_FREE}) throw new Error('lock taken');
    const db = new Database(workerData.file);
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO meta (key, value) VALUES ('from the other thread', 'x')").run();
    parentPort.postMessage('holding');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
    db.exec('COMMIT');
    db.close();
    if (workerData.release) { Atomics.store(word, 0, ${LOCK_FREE}); Atomics.notify(word, 0); }
  `;
  return new Worker(source, {
    eval: true,
    workerData: {
      file,
      lock: lock.buffer,
      holdMs: options.holdMs,
      release: options.release ?? true,
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  });
}

test('a transaction on the event loop waits while the other thread holds the write lock, then commits after it', async () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const lock = writeLockOf(db)!;
    assert.ok(lock, 'a device file gets a write lock');
    const worker = otherWriter(db.name, lock, { holdMs: 150 });
    await once(worker, 'message');
    const started = performance.now();
    // reads first, then writes: without the lock this fails at once (SQLITE_BUSY_SNAPSHOT) or sleeps in SQLite's busy handler
    const seen = inTransaction(db, () => {
      const rows = db.prepare("SELECT count(*) AS n FROM meta WHERE key = 'from the other thread'").get() as {
        n: number;
      };
      db.prepare("INSERT INTO meta (key, value) VALUES ('from the event loop', 'y')").run();
      return rows.n;
    });
    const waited = performance.now() - started;
    assert.equal(seen, 1, "the transaction began after the other thread's commit and saw its row");
    assert.ok(waited >= 100, `waited ${waited} ms for the other thread's commit`);
    assert.equal(lock.waits.count, 1);
    assert.ok(lock.waits.ms >= 100);
    // the functions db.transaction makes take the lock too, and a free lock costs no wait
    db.transaction(() => db.prepare("UPDATE meta SET value = 'z' WHERE key = 'from the event loop'").run())();
    assert.equal(lock.waits.count, 1);
    await once(worker, 'exit');
  } finally {
    db.close();
    dir.remove();
  }
});

test('db.transaction functions wait for the other thread as inTransaction does', async () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const lock = writeLockOf(db)!;
    const count = db.prepare("SELECT count(*) AS n FROM meta WHERE key LIKE 'from %'").pluck();
    const insert = db.transaction((key: string) => {
      const before = count.get() as number;
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, String(before));
      return before;
    });
    const worker = otherWriter(db.name, lock, { holdMs: 100 });
    await once(worker, 'message');
    assert.equal(insert.immediate('from the event loop'), 1, "it ran after the other thread's row was committed");
    assert.equal(lock.waits.count, 1);
    // what it is called on reaches the wrapped function, as with better-sqlite3's own
    const withThis = db.transaction(function (this: { n: number }) {
      return this.n;
    });
    assert.equal(withThis.call({ n: 7 }), 7);
    await once(worker, 'exit');
  } finally {
    db.close();
    dir.remove();
  }
});

test('a lock left held by a thread that ended is freed, and a wait past the timeout fails with SQLITE_BUSY', async () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const lock = new WriteLock(50);
    const worker = otherWriter(db.name, lock, { holdMs: 0, release: false });
    await once(worker, 'exit');
    const started = performance.now();
    assert.throws(
      () => lock.acquire(),
      (error: Error & { code?: string }) =>
        error.code === 'SQLITE_BUSY' && /stayed locked by the retention purge for 0\.05 s/.test(error.message),
    );
    assert.ok(performance.now() - started >= 45, 'it waited its timeout out first');
    lock.releaseWorkersHold();
    lock.acquire();
    lock.release();
    assert.equal(lock.waits.count, 0, 'a freed lock is taken without waiting');
  } finally {
    db.close();
    dir.remove();
  }
});
