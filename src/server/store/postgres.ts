import pg from 'pg';
import { serverMigrations } from './migrations.ts';
import type { Sql } from './sql.ts';
import { redactUrl } from '../../protocol/redact.ts';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/**
 * The key of the advisory lock migrations run under ('smsgate' in ASCII), so that two nodes
 * starting at once against a fresh database do not both create the tables.
 */
export const MIGRATION_LOCK_KEY = 0x736d7367617465n;

export interface PostgresPoolOptions {
  /** pool size per process (default 10) */
  max?: number;
  /** shown in pg_stat_activity */
  applicationName?: string;
  /** where errors of idle connections are reported (default: stderr) */
  log?: (line: string) => void;
}

/**
 * BIGINT (oid 20) comes back from pg as a string, to be safe beyond 2^53; our BIGINTs are Unix
 * milliseconds and counts, so numbers. Set per pool, not globally on the pg module.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** Explain a connection error in terms a user can act on. */
export function explainConnectError(url: string, error: unknown): Error {
  const e = error as { code?: string; message?: string };
  const where = redactUrl(url);
  if (e.code === '3D000') {
    const name = decodeURIComponent(new URL(url).pathname.slice(1));
    return new Error(
      `PostgreSQL at ${where}: ${e.message}; create it first, e.g. \`createdb -h <host> -U <user> ${name}\``,
    );
  }
  if (
    e.code === 'ECONNREFUSED' ||
    e.code === 'ENOTFOUND' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'EHOSTUNREACH' ||
    /timeout/i.test(e.message ?? '')
  ) {
    return new Error(
      `cannot reach PostgreSQL at ${where} (${e.code ?? e.message}); is it running and listening there?`,
    );
  }
  return new Error(`PostgreSQL at ${where}: ${e.message ?? String(error)}`);
}

/** A pool whose broken idle connections are dropped and replaced on next use (e.g. after a PostgreSQL restart). */
export function createPool(url: string, options: PostgresPoolOptions = {}): PgPool {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'smsgate',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  // Without a listener an idle connection's error (the server restarting) would crash the process.
  pool.on('error', (error) =>
    log(`postgres: an idle connection failed (${error.message}); the pool opens a new one when needed`),
  );
  return pool;
}

/**
 * Run a statement as a named prepared statement: each pooled connection parses and plans it the
 * first time, then only binds and executes it. `params` holds a value for each `:name` (null for
 * SQL NULL; undefined is refused, so a forgotten parameter is never stored as NULL).
 */
export function query<P extends object, R>(
  db: PgPool | PgClient,
  statement: Sql<P, R>,
  params: P,
): Promise<pg.QueryResult<R & pg.QueryResultRow>> {
  const { text, names } = statement.postgres;
  const values: unknown[] = [];
  for (const name of names) {
    const value = params[name];
    if (value === undefined) return Promise.reject(new Error(`${statement.name}: no value for :${name}`));
    values.push(value);
  }
  return db.query<R & pg.QueryResultRow>({ name: statement.name, text, values });
}

/**
 * Run `fn` in one transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when
 * it throws. A connection whose ROLLBACK fails is broken and is not returned to the pool.
 */
export async function inTransaction<T>(
  pool: PgPool,
  fn: (client: PgClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Bring the schema up to date (`migrations/postgres/`; one row per applied version in
 * `smsgate_schema`). The whole run is one transaction holding an advisory lock, so when several
 * nodes start at once the first migrates and the others wait, then find nothing to do. DDL is
 * transactional in PostgreSQL: a failed migration leaves no half-made table.
 */
export async function migratePostgres(pool: PgPool): Promise<{ from: number; to: number }> {
  const migrations = serverMigrations('postgres');
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS smsgate_schema (
         version    INTEGER PRIMARY KEY,
         applied_at BIGINT NOT NULL
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM smsgate_schema',
    );
    const current = rows[0].version ?? 0;
    if (current > migrations.length) {
      throw new Error(
        `the server database is at schema version ${current}, newer than this smsgate understands (${migrations.length}); upgrade smsgate`,
      );
    }
    for (const migration of migrations.slice(current)) {
      await client.query(migration.sql);
      await client.query('INSERT INTO smsgate_schema (version, applied_at) VALUES ($1, $2)', [
        migration.version,
        Date.now(),
      ]);
    }
    return { from: current, to: migrations.length };
  });
}
