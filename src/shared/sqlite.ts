import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Open (or create) a SQLite file and bring its schema up to date. WAL with synchronous=NORMAL:
 * a committed transaction survives the process being killed at any moment; only an OS crash can
 * lose the last commits. `migrations` is append only; index + 1 is the schema version
 * (PRAGMA user_version). `what` names the database in errors ("device", "server").
 */
export function openMigratedSqlite(file: string, migrations: readonly string[], what: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // IMMEDIATE takes the write lock first, so two processes opening a fresh file do not both migrate.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(
        `the ${what} database is at schema version ${current}, newer than this smsgate understands (${migrations.length}); upgrade smsgate`,
      );
    }
    for (let version = current; version < migrations.length; version++) {
      db.exec(migrations[version]);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
  return db;
}
