import { readMigrations, type Migration } from '../../shared/migration-files.ts';

export type Dialect = 'sqlite' | 'postgres';

export type { Migration };

const loaded = new Map<Dialect, readonly Migration[]>();

/**
 * The server's migrations for one dialect, in version order. The two folders are numbered alike:
 * version N makes the same change in both, so the two schemas agree at every version
 * (test/postgres/schema.test.ts compares them). Append only: a released file is never edited; a
 * change is a new file in each folder. The store records which versions it applied (SQLite:
 * `PRAGMA user_version`; PostgreSQL: the `smsgate_schema` table) and applies the rest in order.
 */
export function serverMigrations(dialect: Dialect): readonly Migration[] {
  let migrations = loaded.get(dialect);
  if (!migrations) {
    migrations = readMigrations(new URL(`./migrations/${dialect}/`, import.meta.url));
    loaded.set(dialect, migrations);
  }
  return migrations;
}
