// The retention purge's batches, on a thread of their own (see PurgeThread in retention.ts): one
// batch per request, each a transaction under the write lock shared with the event loop.
// Plain JavaScript: a worker does not inherit the TypeScript loader the CLI registers.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

// The lock's word and marks, as in shared/write-lock.ts: FREE, or the side that holds it.
const LOCK_FREE = 0;
const LOCK_WORKER = 2;
const lock = new Int32Array(workerData.lock);

const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
// The event loop's connection and the checkpoint thread checkpoint; a checkpoint here would hold the lock.
db.pragma('wal_autocheckpoint = 0');
// Every commit of the event loop's connection empties this connection's page cache (it reads the
// pages again at its next batch), so a large one would only cost memory.
db.pragma('cache_size = -1024');
const sql = Object.fromEntries(Object.entries(workerData.sql).map(([name, text]) => [name, db.prepare(text)]));

/** `fn` while holding the write lock: it waits for the event loop's transaction under way, if any. */
function underLock(fn) {
  const deadline = performance.now() + workerData.lockTimeoutMs;
  for (;;) {
    const holder = Atomics.compareExchange(lock, 0, LOCK_FREE, LOCK_WORKER);
    if (holder === LOCK_FREE) break;
    const left = deadline - performance.now();
    if (left <= 0)
      throw Object.assign(new Error('the database stayed locked; the purge tries again at its next run'), {
        code: 'SQLITE_BUSY',
      });
    Atomics.wait(lock, 0, holder, left);
  }
  try {
    return fn();
  } finally {
    Atomics.store(lock, 0, LOCK_FREE);
    Atomics.notify(lock, 0);
  }
}

const deliveryBatch = db.transaction(({ cutoff, below, limit }) => {
  const { first, last, count } = sql.expiredRange.get({ cutoff, below, limit });
  if (first === null || last === null) return { count: 0, deliveries: 0, attempts: 0 };
  const range = { first, last, cutoff };
  let attempts = sql.deleteAttemptsInRange.run(range).changes;
  let deliveries = 0;
  for (const { successOnRow } of sql.deleteDeliveriesInRange.all(range)) {
    deliveries++;
    attempts += successOnRow;
  }
  return { count, deliveries, attempts };
});

const inboxBatch = db.transaction((expired) => {
  sql.deleteExpiredAttachments.run(expired);
  return sql.deleteExpiredInbox.run(expired).changes;
});

parentPort.on('message', ({ id, kind, args }) => {
  if (kind === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    if (kind === 'firstSeqCreatedSince') {
      parentPort.postMessage({ id, result: sql.firstSeqCreatedSince.get(args)?.seq ?? null });
      return;
    }
    const started = performance.now();
    const result = underLock(() =>
      kind === 'deliveries' ? deliveryBatch.immediate(args) : inboxBatch.immediate(args),
    );
    parentPort.postMessage({ id, result, heldMs: performance.now() - started });
  } catch (error) {
    parentPort.postMessage({ id, error: { message: error.message, code: error.code } });
  }
});
