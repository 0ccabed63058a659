/** A retention setting counts days. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Rows a purge deletes at a time: few enough that a write never waits long behind one. At 1,000
 * events/s with batches of 100 a delivery's p99 was 3.4× the run without retention; with 25, 1.08×.
 */
export const PURGE_BATCH = 25;
/** How often a purge runs, in the runtime's clock time (the device scales it like its other timers). */
export const PURGE_EVERY_MS = 60_000;

/**
 * While a purge runs it takes at most this share of the time: after a batch that took t ms it rests
 * t × 9, and at least a 1 ms timer, never only a turn of the event loop. Each event then meets at
 * most one batch on its way (its commit, its send, its result) instead of one at every step, as it
 * did while batches followed each other. At 1,000 events/s a delivery's p99 was 1.29–1.39× the run
 * without retention with a turn between batches, 1.14–1.23× with 1 ms, 0.95–1.24× with this share
 * (BENCHMARKS.md, Results, 2026-12-05). It still purges 2,500 rows a second when a batch takes 1 ms.
 */
export const PURGE_TIME_SHARE = 0.1;

/** The rest after a batch that took `batchMs` (real time, not the device's scaled clock). */
export const restAfterBatchMs = (batchMs: number) => Math.max(1, batchMs * (1 / PURGE_TIME_SHARE - 1));

/**
 * Runs `batch` (it returns the rows it removed, at most `batchRows`) until it removes fewer than
 * that or `keepGoing()` turns false, resting between batches; returns the rows removed. A batch's
 * time is measured as real time: on the event loop's SQLite connection it is the time the loop was
 * blocked, on a thread or PostgreSQL the round trips too, which the rest then keeps the database's
 * share of the purge to.
 */
export async function purgeInBatches(
  batch: () => number | Promise<number>,
  keepGoing: () => boolean,
  batchRows = PURGE_BATCH,
): Promise<number> {
  let total = 0;
  while (keepGoing()) {
    const started = performance.now();
    const removed = await batch();
    total += removed;
    if (removed < batchRows) break;
    const restMs = restAfterBatchMs(performance.now() - started);
    await new Promise<void>((resolve) => setTimeout(resolve, restMs));
  }
  return total;
}
