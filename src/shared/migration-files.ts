import { readdirSync, readFileSync } from 'node:fs';

/** One file of a migrations folder, named `NNNN_what.sql`: schema version NNNN. */
export interface Migration {
  version: number;
  /** the file name */
  name: string;
  sql: string;
}

const FILE_NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

/**
 * The migrations of folder `dir`, in version order: files named `NNNN_what.sql`, numbered 0001,
 * 0002, … without gaps. Append only: a released file is never edited; a change is a new file.
 */
export function readMigrations(dir: URL): Migration[] {
  return readdirSync(dir)
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
}
