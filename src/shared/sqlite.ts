import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makePrivateDir, preparePrivateSqliteFile } from './private-files.ts';
import type { WriteLock } from './write-lock.ts';

/**
 * Open (or create) a SQLite file and bring its schema up to date. WAL with synchronous=NORMAL:
 * a committed transaction survives the process being killed at any moment; only an OS crash can
 * lose the last commits. `migrations` is append only; index + 1 is the schema version
 * (PRAGMA user_version). `what` names the database in errors ("device", "server"). The file, its
 * WAL and a directory made for it are readable by their owner only.
 */
export function openMigratedSqlite(file: string, migrations: readonly string[], what: string): Database.Database {
  if (file !== ':memory:') {
    makePrivateDir(dirname(file));
    preparePrivateSqliteFile(file);
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // IMMEDIATE takes the write lock first, so two processes opening a fresh file do not both migrate.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(
        `the ${what} database is at schema version ${current}, newer than this smsgate understands (${migrations.length}); upgrade smsgate`,
      );
    }
    for (let version = current; version < migrations.length; version++) {
      db.exec(migrations[version]);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
  return db;
}

/**
 * Checkpoints, the copy of committed pages from the WAL into the database file and its fsync,
 * cost milliseconds at a time. Left to SQLite they run inside whichever commit crosses the WAL
 * threshold, on the event loop, and every event in flight waits. This moves them to a worker
 * thread with its own connection, which checkpoints every `intervalMs` without blocking writers.
 *
 * Under steady writes such a checkpoint never catches the very last frame, and only a checkpoint
 * that does lets the WAL start over; so the writing connection keeps an automatic checkpoint at
 * `walLimitPages` as a backstop. By then the worker has copied and synced nearly everything, so
 * that one is short, and it bounds the WAL file.
 */
export function startBackgroundCheckpoints(
  db: Database.Database,
  options: { intervalMs?: number; walLimitPages?: number } = {},
): { stop(): Promise<void> } {
  db.pragma(`wal_autocheckpoint = ${options.walLimitPages ?? 8000}`);
  const worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), {
    workerData: { file: db.name, intervalMs: options.intervalMs ?? 100 },
    // it only runs a pragma now and then: a small heap keeps the device's memory down
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  worker.unref();
  // A worker that fails (it cannot open the file) only costs the optimisation: the backstop
  // checkpoint still bounds the WAL.
  worker.on('error', () => {});
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const done = () => resolve();
        worker.once('exit', done);
        worker.once('message', () => void worker.terminate().then(done, done));
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate().then(done, done), 2000).unref();
      });
      return stopped;
    },
  };
}

/**
 * Statements whose text depends on a filter (a list with optional conditions): each shape is
 * prepared the first time it is needed and then kept, like the fixed statements a store prepares
 * when it is built. There are only as many shapes as the filter has combinations.
 */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  get<P extends object, R>(text: string): Database.Statement<[P], R> {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement as Database.Statement<[P], R>;
  }
}

interface TransactionStatements {
  begin: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
  savepoint: Database.Statement;
  release: Database.Statement;
  rollbackTo: Database.Statement;
}
const transactionStatements = new WeakMap<Database.Database, TransactionStatements>();

/**
 * `fn` in one transaction: committed if it returns, rolled back if it throws; inside a transaction
 * already, a savepoint of it. What `db.transaction(fn)()` does, without building the wrapper on
 * every call (~7 µs each, a fair share of a hot path's commit).
 */
export function inTransaction<T>(db: Database.Database, fn: () => T): T {
  let s = transactionStatements.get(db);
  if (!s) {
    s = {
      begin: db.prepare('BEGIN'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT nested'),
      release: db.prepare('RELEASE nested'),
      rollbackTo: db.prepare('ROLLBACK TO nested'),
    };
    transactionStatements.set(db, s);
  }
  const nested = db.inTransaction;
  const lock = nested ? undefined : writeLocks.get(db);
  lock?.acquire();
  try {
    (nested ? s.savepoint : s.begin).run();
    try {
      const result = fn();
      (nested ? s.release : s.commit).run();
      return result;
    } catch (error) {
      // a failed commit (a full disk) leaves the transaction open: it is rolled back too
      if (db.inTransaction) {
        if (nested) {
          s.rollbackTo.run();
          s.release.run();
        } else s.rollback.run();
      }
      throw error;
    }
  } finally {
    lock?.release();
  }
}

const writeLocks = new WeakMap<Database.Database, WriteLock>();

/**
 * Makes every transaction on `db` (`inTransaction`, and the functions `db.transaction` makes, in
 * each of their modes) take `lock` for its whole length, once another thread writes to the same
 * file through a connection of its own (the device's retention purge). Writes outside a transaction
 * are single statements: they cannot fail the way a transaction that read first can, and only wait
 * in SQLite's busy handler if they meet the other thread's commit. Call it before anything makes a
 * transaction function.
 */
export function guardTransactions(db: Database.Database, lock: WriteLock): void {
  writeLocks.set(db, lock);
  const makeTransaction = db.transaction.bind(db);
  type Run = (this: unknown, ...args: unknown[]) => unknown;
  // a transaction function passes its `this` on to the function it wraps; so does the guard
  const guarded = (run: Run): Run =>
    function (this: unknown, ...args) {
      if (db.inTransaction) return run.apply(this, args);
      lock.acquire();
      try {
        return run.apply(this, args);
      } finally {
        lock.release();
      }
    };
  db.transaction = ((fn: Run) => {
    const transaction = makeTransaction(fn);
    return Object.assign(guarded(transaction), {
      default: guarded(transaction.default),
      deferred: guarded(transaction.deferred),
      immediate: guarded(transaction.immediate),
      exclusive: guarded(transaction.exclusive),
      database: db,
    });
  }) as unknown as typeof db.transaction;
}

/** The lock `guardTransactions` gave `db`, if any. */
export const writeLockOf = (db: Database.Database): WriteLock | undefined => writeLocks.get(db);
