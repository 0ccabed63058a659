import { prepareAll, type SqliteDb } from './sqlite.ts';
import { sql } from './sql.ts';

/** Server-wide values kept in the database (e.g. the generated private token), shared by every node. */
export interface MetaRepository {
  getMeta(key: string): Promise<string | undefined>;
  /** Store `value` unless the key has one already; returns the value that is stored (the first writer wins). */
  setMetaIfAbsent(key: string, value: string): Promise<string>;
}

/** The same SQL on both stores. */
export const META_SQL = {
  getMeta: sql<{ key: string }, { value: string }>('meta.get', `SELECT value FROM server_meta WHERE key = :key`),
  insertMetaIfAbsent: sql<{ key: string; value: string }>(
    'meta.insert-if-absent',
    `INSERT INTO server_meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING`,
  ),
};

export class SqliteMetaRepository implements MetaRepository {
  private readonly statements;

  constructor(db: SqliteDb) {
    this.statements = prepareAll(db, META_SQL);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.statements.getMeta.get({ key })?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    this.statements.insertMetaIfAbsent.run({ key, value });
    return this.statements.getMeta.get({ key })!.value;
  }
}
