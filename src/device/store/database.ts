import type Database from 'better-sqlite3';
import { readMigrations } from '../../shared/migration-files.ts';
import { openMigratedSqlite } from '../../shared/sqlite.ts';

export type Db = Database.Database;

/**
 * The device's migrations (`migrations/NNNN_what.sql`, append only): version N is PRAGMA
 * user_version N.
 */
export const MIGRATIONS: readonly string[] = readMigrations(new URL('./migrations/', import.meta.url)).map(
  (migration) => migration.sql,
);

/** Open (or create) the device database at the current schema. */
export function openDatabase(file: string): Db {
  return openMigratedSqlite(file, MIGRATIONS, 'device');
}
