import type Database from 'better-sqlite3';
import { openMigratedSqlite } from '../../shared/sqlite.ts';
import { serverMigrations } from './migrations.ts';
import type { Sql } from './sql.ts';

export type SqliteDb = Database.Database;

/**
 * Open (or create) the server's SQLite file at the current schema (`migrations/sqlite/`,
 * `PRAGMA user_version` says which are applied). WAL lets the `users` admin command write while a
 * server runs on the same file.
 */
export function openSqlite(file: string): SqliteDb {
  return openMigratedSqlite(
    file,
    serverMigrations('sqlite').map((m) => m.sql),
    'server',
  );
}

/** A statement set as prepared statements, key by key, with their parameter and row types. */
export type Prepared<S> = {
  [K in keyof S]: S[K] extends Sql<infer P, infer R> ? Database.Statement<[P], R> : never;
};

/**
 * Prepare every statement of a set. A repository does it once, when it is built: preparing costs
 * about as much as running a statement, and a statement that names a column the schema lacks then
 * fails when the store opens, not on first use.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a set of statements of any parameter and row types
export function prepareAll<S extends Record<string, Sql<any, any>>>(db: SqliteDb, statements: S): Prepared<S> {
  return Object.fromEntries(
    Object.entries(statements).map(([key, statement]) => [key, db.prepare(statement.text)]),
  ) as Prepared<S>;
}
