import type Database from 'better-sqlite3';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Most writes one commit carries; a longer queue is committed in several. */
const MAX_BATCH = 256;

/**
 * Group commit on one SQLite connection. Each commit writes its pages to the WAL with write(2),
 * which costs more than a small statement itself; writes requested in the same turn of the event
 * loop (concurrent API requests) are run together, at the end of that turn, in one transaction.
 *
 * - Each write runs in a savepoint of its own: one that throws is rolled back alone and its caller
 *   gets the error; the others commit.
 * - A caller's promise resolves only after the commit that holds its write, so an answer is never
 *   sent for a write that could still be lost.
 * - A write sees the writes queued before it (same connection, same transaction); reads outside
 *   this queue see them once committed.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly commitBatch: (batch: Pending[]) => { ok: boolean; value: unknown }[];

  constructor(db: Database.Database) {
    // Called inside the outer transaction, a transaction function opens a savepoint.
    const inSavepoint = db.transaction((work: () => unknown) => work());
    this.commitBatch = db.transaction((batch: Pending[]) =>
      batch.map((item) => {
        try {
          return { ok: true, value: inSavepoint(item.work) };
        } catch (error) {
          return { ok: false, value: error };
        }
      }),
    );
  }

  /** Run `work` (synchronous statements) in the next group commit; resolves with its result once committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
      this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
      let outcomes: { ok: boolean; value: unknown }[];
      try {
        outcomes = this.commitBatch(batch);
      } catch (error) {
        // the commit itself failed (disk full, I/O error): nothing of the batch is stored
        for (const item of batch) item.reject(error);
        continue;
      }
      batch.forEach((item, i) => (outcomes[i].ok ? item.resolve(outcomes[i].value) : item.reject(outcomes[i].value)));
    }
  }
}
