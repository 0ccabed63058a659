import type Database from 'better-sqlite3';
import { openMigratedSqlite } from '../../shared/sqlite.ts';
import { serverMigrations } from './migrations.ts';

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
