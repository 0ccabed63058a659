import { readdirSync, readFileSync } from 'node:fs';

export type Dialect = 'sqlite' | 'postgres';

/** One file of `migrations/<dialect>/`, named `NNNN_what.sql`: schema version NNNN. */
export interface Migration {
  version: number;
  /** the file name */
  name: string;
  sql: string;
}

const FILE_NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;
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
    const dir = new URL(`./migrations/${dialect}/`, import.meta.url);
    migrations = readdirSync(dir)
      .filter((name) => name.endsWith('.sql'))
      .sort()
      .map((name, index) => {
        const number = FILE_NAME.exec(name)?.[1];
        if (number === undefined || Number(number) !== index + 1) {
          throw new Error(
            `${dir.pathname}${name}: migrations are named NNNN_what.sql and numbered 0001, 0002, … without gaps`,
          );
        }
        return { version: index + 1, name, sql: readFileSync(new URL(name, dir), 'utf8') };
      });
    loaded.set(dialect, migrations);
  }
  return migrations;
}
