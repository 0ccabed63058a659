import type Database from 'better-sqlite3';
import { inTransaction } from './sqlite.ts';

interface QueuedWrite {
  write: () => unknown;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes queued in the same turn of the event loop commit together, in one transaction. A commit
 * costs the pages it dirties, and writes of one kind share most of theirs (the tails of the same
 * tables and indexes): with 20 webhooks per SMS, the device's intake went from 1,810 to 2,400–3,300
 * SMS/s (BENCHMARKS.md, Live throughput). A caller's promise settles only after the commit, so
 * nothing is acknowledged before it is in the database.
 *
 * When a batch fails (a write throws, or the commit does, as on a full disk), it is rolled back and
 * each write runs again in its own transaction, so one bad write fails alone. A write must therefore
 * change only the database and what `rolledBack` undoes.
 */
export class GroupCommit {
  private queue: QueuedWrite[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Database.Database,
    private readonly hooks: {
      /** after each commit, before its callers' promises settle */
      committed(): void;
      /** after each rollback: forget what the rolled-back writes left in memory */
      rolledBack(): void;
    },
    /** a batch this large commits at once, so a burst does not become one huge transaction */
    private readonly maxBatch = 128,
  ) {}

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (result: unknown) => void, reject });
      // Inside a caller's transaction a commit now would only be a savepoint: wait for the turn's end.
      if (this.queue.length >= this.maxBatch && !this.db.inTransaction) this.commit();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.commit();
        });
      }
    });
  }

  private commit(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    let results: unknown[];
    try {
      results = inTransaction(this.db, () => batch.map((queued) => queued.write()));
    } catch (error) {
      this.hooks.rolledBack();
      if (batch.length === 1) batch[0].reject(error);
      else for (const queued of batch) this.commitAlone(queued);
      return;
    }
    const failure = this.afterCommit();
    for (let i = 0; i < batch.length; i++) {
      if (failure) batch[i].reject(failure.error);
      else batch[i].resolve(results[i]);
    }
  }

  private commitAlone(queued: QueuedWrite): void {
    let result: unknown;
    try {
      result = inTransaction(this.db, queued.write);
    } catch (error) {
      this.hooks.rolledBack();
      queued.reject(error);
      return;
    }
    const failure = this.afterCommit();
    if (failure) queued.reject(failure.error);
    else queued.resolve(result);
  }

  /**
   * The committed hook. If it throws, the writes stay committed and their callers get its error, as
   * they would have from a transaction of their own: it must not escape a timer callback and end
   * the process.
   */
  private afterCommit(): { error: unknown } | undefined {
    try {
      this.hooks.committed();
      return undefined;
    } catch (error) {
      return { error };
    }
  }
}
