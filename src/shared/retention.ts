/** A retention setting counts days. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows a purge deletes at a time: few enough that a write never waits long behind one. */
export const PURGE_BATCH = 100;
/** How often a purge runs, in the runtime's clock time (the device scales it like its other timers). */
export const PURGE_EVERY_MS = 60_000;
