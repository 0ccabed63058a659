/**
 * Who may write to a SQLite file next, between the event loop and a worker thread that each have a
 * connection to it. SQLite lets one connection write at a time, but a connection that finds the
 * lock taken either sleeps in SQLite's busy handler (1 ms at least, then longer) or, in a
 * transaction that read before it wrote, fails at once (SQLITE_BUSY_SNAPSHOT). Both sides take
 * this lock before they begin a write transaction instead, and wait exactly until the other side
 * commits.
 *
 * The lock is one 32-bit word in shared memory: FREE, or the side that holds it. A side takes it by
 * swapping FREE for its own mark and, while the other holds it, sleeps on the word until the
 * holder stores FREE and wakes it (`Atomics.wait`/`Atomics.notify`). The worker's side of the same
 * protocol is in `device/store/purge-worker.mjs`.
 */
export const LOCK_FREE = 0;
export const LOCK_EVENT_LOOP = 1;
export const LOCK_WORKER = 2;

/** How long a side waits for the other before it gives up: SQLite's own busy timeout here. */
export const WRITE_LOCK_TIMEOUT_MS = 5_000;

export class WriteLock {
  /** the shared word; hand it to the worker, which builds its side from it */
  readonly buffer = new SharedArrayBuffer(4);
  private readonly word = new Int32Array(this.buffer);
  /** what waiting for the worker has cost the event loop, for measurements */
  readonly waits = { count: 0, ms: 0 };

  constructor(readonly timeoutMs = WRITE_LOCK_TIMEOUT_MS) {}

  /** Takes the lock for the event loop, blocking while the worker holds it. */
  acquire(): void {
    if (Atomics.compareExchange(this.word, 0, LOCK_FREE, LOCK_EVENT_LOOP) === LOCK_FREE) return;
    const started = performance.now();
    const deadline = started + this.timeoutMs;
    for (;;) {
      const holder = Atomics.compareExchange(this.word, 0, LOCK_FREE, LOCK_EVENT_LOOP);
      if (holder === LOCK_FREE) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        // the code SQLite gives a write that waited its busy timeout out, and the same meaning
        throw Object.assign(
          new Error(
            `the database stayed locked by the retention purge for ${this.timeoutMs / 1000} s; the write was not made, try again`,
          ),
          { code: 'SQLITE_BUSY' },
        );
      }
      Atomics.wait(this.word, 0, holder, left);
    }
    this.waits.count++;
    this.waits.ms += performance.now() - started;
  }

  release(): void {
    Atomics.store(this.word, 0, LOCK_FREE);
    Atomics.notify(this.word, 0);
  }

  /**
   * After the worker ended without releasing the lock (it was terminated mid-batch): frees it, so
   * the event loop's next write does not wait for a holder that is gone. Its SQLite transaction
   * ended with its connection.
   */
  releaseWorkersHold(): void {
    if (Atomics.compareExchange(this.word, 0, LOCK_WORKER, LOCK_FREE) === LOCK_WORKER) Atomics.notify(this.word, 0);
  }
}
