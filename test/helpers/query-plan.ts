import type Database from 'better-sqlite3';

/** Bind parameters for EXPLAIN: NULL for each `?` and each `:name` (EXPLAIN does not read them). */
function nullParameters(sql: string): unknown[] {
  const named = Object.fromEntries([...sql.matchAll(/(?<![:\w]):([A-Za-z_]\w*)/g)].map(([, name]) => [name, null]));
  const positional = [...sql.matchAll(/\?/g)].map(() => null);
  return Object.keys(named).length > 0 ? [named] : positional;
}

/** The steps of SQLite's plan for `sql`, as EXPLAIN QUERY PLAN details. */
export function planOf(db: Database.Database, sql: string): string[] {
  return db
    .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...nullParameters(sql))
    .map((row) => row.detail);
}

/** The VDBE opcodes SQLite compiles `sql` to (EXPLAIN), in program order. */
export function opcodesOf(db: Database.Database, sql: string): string[] {
  return db
    .prepare<unknown[], { opcode: string }>(`EXPLAIN ${sql}`)
    .all(...nullParameters(sql))
    .map((row) => row.opcode);
}
