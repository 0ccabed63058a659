import type Database from 'better-sqlite3';
import { readMigrations } from '../../shared/migration-files.ts';
import { guardTransactions, openMigratedSqlite } from '../../shared/sqlite.ts';
import { WriteLock } from '../../shared/write-lock.ts';

export type Db = Database.Database;

/**
 * The device's migrations (`migrations/NNNN_what.sql`, append only): version N is PRAGMA
 * user_version N.
 */
export const MIGRATIONS: readonly string[] = readMigrations(new URL('./migrations/', import.meta.url)).map(
  (migration) => migration.sql,
);

/**
 * Open (or create) the device database at the current schema. A file's transactions take a write
 * lock shared with the retention purge's thread (`store/retention.ts`), the one other writer.
 */
export function openDatabase(file: string): Db {
  const db = openMigratedSqlite(file, MIGRATIONS, 'device');
  if (file !== ':memory:') guardTransactions(db, new WriteLock());
  return db;
}
