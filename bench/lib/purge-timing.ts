import type Database from 'better-sqlite3';

/**
 * Times the retention purge's batches on `db`: the purger makes its batches' transactions at each
 * run, so every transaction made from now on by code in `store/retention.ts` (or its compiled
 * `.js`) is timed, from its start to its commit, which on SQLite is the time it held the event
 * loop. Transactions made by other code, or made before, are left as they are.
 */
export function timePurgeBatches(db: Database.Database): { heldMs: number; batches: number } {
  const totals = { heldMs: 0, batches: 0 };
  const makeTransaction = db.transaction.bind(db);
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    const transaction = makeTransaction(fn);
    if (!/store\/retention\.[jt]s/.test(new Error().stack ?? '')) return transaction;
    return Object.assign((...args: unknown[]) => {
      const started = performance.now();
      try {
        return transaction(...args);
      } finally {
        totals.heldMs += performance.now() - started;
        totals.batches++;
      }
    }, transaction);
  }) as typeof db.transaction;
  return totals;
}
