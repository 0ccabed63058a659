import Database from 'better-sqlite3';

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

/**
 * The tables of `db` whose row, inserted with every column, compiles to a program that builds a
 * temporary b-tree (OpenEphemeral). An INSERT evaluates every CHECK and every partial index's WHERE
 * of its table, so this finds a list of three constants or more in any of them, which SQLite turns
 * into such a tree each time a row is written or its indexed state changes.
 */
export function tablesBuildingTreesPerRow(db: Database.Database): string[] {
  const tables = db
    .prepare<[], string>(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
    .pluck()
    .all();
  return tables.filter((table) => {
    const columns = db
      .prepare<[string], string>('SELECT name FROM pragma_table_info(?)')
      .pluck()
      .all(table)
      .map((column) => `"${column}"`);
    const insert = `INSERT INTO "${table}" (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    return opcodesOf(db, insert).includes('OpenEphemeral');
  });
}

/** The SQL of every statement prepared, on any connection, while `during` runs (awaited if async). */
export async function sourcesPreparedDuring(during: () => unknown): Promise<Set<string>> {
  const sources = new Set<string>();
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: Database.Database, source: string) {
    sources.add(source);
    return prepare.call(this, source);
  } as typeof prepare;
  try {
    await during();
  } finally {
    Database.prototype.prepare = prepare;
  }
  return sources;
}
