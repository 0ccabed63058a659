import type Database from 'better-sqlite3';
import pg from 'pg';

/**
 * A database schema as a sorted list of lines, written the same way for SQLite and PostgreSQL so
 * that two schemas can be compared line by line:
 *
 *   column devices.push_token text null
 *   primary key message_states (user_id, message_id, state)
 *   unique devices (token_hash)
 *   index messages.messages_pending (device_id, created_at) where state = 'pending'
 *   foreign key device_attempts (device_id, delivery_id) → device_deliveries (device_id, id) on delete cascade
 *   checks webhooks 1
 *
 * Types are normalised to SQLite's storage classes, the way the migrations pair them: INTEGER ↔
 * SMALLINT / INTEGER / BIGINT / BOOLEAN (flags are 0 or 1 in SQLite), TEXT ↔ TEXT. A PostgreSQL
 * type without a SQLite counterpart keeps its own name, so it never matches by accident.
 * Primary-key columns count as not null on both (SQLite would accept a NULL in a TEXT primary
 * key for historical reasons; PostgreSQL would not). Defaults are compared as expressions are (lower
 * case, without casts or parentheses). CHECK constraints are counted per table:
 * their expressions are written too differently by the two databases to compare.
 */
export type SchemaLines = string[];

/** What a table line lists: the table names, without the store's own bookkeeping. */
const BOOKKEEPING_TABLES = new Set(['smsgate_schema']);

function sqliteType(declared: string): string {
  const type = declared.toUpperCase();
  if (type.includes('INT') || type === 'BOOLEAN') return 'integer';
  if (/CHAR|CLOB|TEXT/.test(type)) return 'text';
  if (type === '' || type.includes('BLOB')) return 'blob';
  if (/REAL|FLOA|DOUB/.test(type)) return 'real';
  return 'numeric';
}

function postgresType(dataType: string): string {
  switch (dataType) {
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'boolean':
      return 'integer';
    case 'text':
    case 'character varying':
    case 'character':
      return 'text';
    case 'real':
    case 'double precision':
      return 'real';
    case 'bytea':
      return 'blob';
    case 'numeric':
      return 'numeric';
    default:
      return dataType;
  }
}

/**
 * `(state = 'Pending'::text)` and `state = 'Pending'` alike: lower case, no casts, no parentheses;
 * PostgreSQL's `state = ANY (ARRAY['a'::text, 'b'::text])` reads as the `state IN ('a', 'b')` it was.
 */
const predicate = (sql: string) =>
  sql
    .replace(/::[a-z ]+/gi, '')
    .replace(/[()]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase()
    .replace(/= any array\[([^\]]*)\]/g, 'in $1');

const action = (sql: string) => sql.toLowerCase();
/** A default as both write it: SQLite keeps a boolean as 0 or 1, so PostgreSQL's false and true read as those. */
const byDefault = (sql: string | null) => {
  if (sql === null) return '';
  const value = predicate(sql);
  return ` default ${value === 'false' ? '0' : value === 'true' ? '1' : value}`;
};
const list = (columns: string[]) => `(${columns.join(', ')})`;

export function sqliteSchema(db: Database.Database): SchemaLines {
  const lines: string[] = [];
  const tables = db
    .prepare<[], { name: string }>(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
    .all()
    .map((t) => t.name)
    .filter((name) => !BOOKKEEPING_TABLES.has(name));
  for (const table of tables) {
    lines.push(`table ${table}`);
    const { sql } = db
      .prepare<unknown[], { sql: string }>(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`)
      .get(table)!;
    const checks = sql.replace(/'(?:[^']|'')*'/g, "''").match(/\bCHECK\s*\(/gi)?.length ?? 0;
    if (checks > 0) lines.push(`checks ${table} ${checks}`);
    const columns = db
      .prepare<unknown[], { name: string; type: string; notnull: number; pk: number; dflt_value: string | null }>(
        `SELECT * FROM pragma_table_xinfo(?)`,
      )
      .all(table);
    for (const c of columns) {
      lines.push(
        `column ${table}.${c.name} ${sqliteType(c.type)} ${c.notnull || c.pk ? 'not null' : 'null'}${byDefault(c.dflt_value)}`,
      );
    }
    const pk = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    if (pk.length > 0) lines.push(`primary key ${table} ${list(pk.map((c) => c.name))}`);

    const indexes = db
      .prepare<unknown[], { name: string; unique: number; origin: string; partial: number }>(
        `SELECT * FROM pragma_index_list(?)`,
      )
      .all(table);
    for (const index of indexes) {
      if (index.origin === 'pk') continue; // the primary key line says it
      const keys = db
        .prepare<unknown[], { name: string; desc: number; key: number }>(
          `SELECT * FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno`,
        )
        .all(index.name)
        .map((k) => (k.desc ? `${k.name} desc` : k.name));
      if (index.origin === 'u') {
        lines.push(`unique ${table} ${list(keys)}`);
        continue;
      }
      let where = '';
      if (index.partial) {
        const { sql } = db
          .prepare<unknown[], { sql: string }>(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`)
          .get(index.name)!;
        where = ` where ${predicate(sql.slice(sql.search(/\bWHERE\b/i) + 'WHERE'.length))}`;
      }
      lines.push(`index ${table}.${index.name}${index.unique ? ' unique' : ''} ${list(keys)}${where}`);
    }

    const foreignKeys = db
      .prepare<unknown[], { id: number; table: string; from: string; to: string; on_delete: string }>(
        `SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq`,
      )
      .all(table);
    for (const id of new Set(foreignKeys.map((f) => f.id))) {
      const parts = foreignKeys.filter((f) => f.id === id);
      lines.push(
        `foreign key ${table} ${list(parts.map((f) => f.from))} → ${parts[0].table} ${list(parts.map((f) => f.to))} on delete ${action(parts[0].on_delete)}`,
      );
    }
  }
  return lines.sort();
}

const PG_DELETE_ACTIONS: Record<string, string> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

export async function postgresSchema(url: string): Promise<SchemaLines> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const lines: string[] = [];
    const bookkeeping = [...BOOKKEEPING_TABLES];
    const { rows: tables } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> ALL($1)`,
      [bookkeeping],
    );
    for (const t of tables) lines.push(`table ${t.table_name}`);

    const { rows: columns } = await client.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: 'YES' | 'NO';
      column_default: string | null;
    }>(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name <> ALL($1)`,
      [bookkeeping],
    );
    for (const c of columns) {
      lines.push(
        `column ${c.table_name}.${c.column_name} ${postgresType(c.data_type)} ${c.is_nullable === 'NO' ? 'not null' : 'null'}${byDefault(c.column_default)}`,
      );
    }

    // Constraints: primary keys, unique constraints, foreign keys (columns in key order).
    const { rows: constraints } = await client.query<{
      contype: 'p' | 'u' | 'f' | 'c' | 'x';
      table_name: string;
      columns: string[];
      ref_table: string | null;
      ref_columns: string[] | null;
      confdeltype: string;
    }>(
      `SELECT c.contype, t.relname AS table_name,
              ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS columns,
              r.relname AS ref_table,
              ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS ref_columns,
              c.confdeltype
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace ns ON ns.oid = t.relnamespace AND ns.nspname = current_schema()
         LEFT JOIN pg_class r ON r.oid = c.confrelid
        WHERE t.relname <> ALL($1)`,
      [bookkeeping],
    );
    for (const c of constraints) {
      if (c.contype === 'p') lines.push(`primary key ${c.table_name} ${list(c.columns)}`);
      else if (c.contype === 'u') lines.push(`unique ${c.table_name} ${list(c.columns)}`);
      else if (c.contype === 'f') {
        lines.push(
          `foreign key ${c.table_name} ${list(c.columns)} → ${c.ref_table} ${list(c.ref_columns!)} on delete ${PG_DELETE_ACTIONS[c.confdeltype]}`,
        );
      } else if (c.contype !== 'c') lines.push(`constraint ${c.contype} on ${c.table_name} ${list(c.columns)}`);
    }
    const checks = new Map<string, number>();
    for (const c of constraints.filter((c) => c.contype === 'c'))
      checks.set(c.table_name, (checks.get(c.table_name) ?? 0) + 1);
    for (const [table, count] of checks) lines.push(`checks ${table} ${count}`);

    // Indexes made by CREATE INDEX (those behind a constraint are the lines above).
    const { rows: indexes } = await client.query<{
      table_name: string;
      index_name: string;
      unique: boolean;
      keys: string[];
      predicate: string | null;
    }>(
      `SELECT t.relname AS table_name, x.relname AS index_name, i.indisunique AS unique,
              ARRAY(SELECT pg_get_indexdef(i.indexrelid, k.n::int, true)
                           || CASE WHEN i.indoption[k.n - 1] & 1 = 1 THEN ' desc' ELSE '' END
                      FROM generate_series(1, i.indnkeyatts) AS k(n) ORDER BY k.n)::text[] AS keys,
              pg_get_expr(i.indpred, i.indrelid) AS predicate
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_class x ON x.oid = i.indexrelid
         JOIN pg_namespace ns ON ns.oid = t.relnamespace AND ns.nspname = current_schema()
        WHERE t.relname <> ALL($1)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))`,
      [bookkeeping],
    );
    for (const index of indexes) {
      const where = index.predicate ? ` where ${predicate(index.predicate)}` : '';
      lines.push(
        `index ${index.table_name}.${index.index_name}${index.unique ? ' unique' : ''} ${list(index.keys)}${where}`,
      );
    }
    return lines.sort();
  } finally {
    await client.end();
  }
}

/** The lines only one side has, for an assertion message that says what drifted. */
export function schemaDifference(a: SchemaLines, b: SchemaLines): { onlyInA: string[]; onlyInB: string[] } {
  const inA = new Set(a);
  const inB = new Set(b);
  return { onlyInA: a.filter((l) => !inB.has(l)), onlyInB: b.filter((l) => !inA.has(l)) };
}
