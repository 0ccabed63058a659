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
 * Between two batches a purge rests for a timer (1 ms), not just a turn of the event loop: when each
 * turn ran a batch, a write that needs a few turns (a device's event: its commit, its send, its
 * result) met a batch in each while a purge ran. At 1,000 events/s a delivery's p99 was 1.29–1.39×
 * the run without retention, 1.17× with the rest (BENCHMARKS.md, Results, 2026-12-04).
 */
export const restBetweenBatches = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
