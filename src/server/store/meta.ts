import type { SqliteDb } from './sqlite.ts';

/** Server-wide values kept in the database (e.g. the generated private token), shared by every node. */
export interface MetaRepository {
  getMeta(key: string): Promise<string | undefined>;
  /** Store `value` unless the key has one already; returns the value that is stored (the first writer wins). */
  setMetaIfAbsent(key: string, value: string): Promise<string>;
}

export class SqliteMetaRepository implements MetaRepository {
  private readonly statements;

  constructor(db: SqliteDb) {
    this.statements = {
      getMeta: db.prepare<[string], { value: string }>(`SELECT value FROM server_meta WHERE key = ?`),
      insertMetaIfAbsent: db.prepare<[string, string]>(
        `INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
      ),
    };
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.statements.getMeta.get(key)?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    this.statements.insertMetaIfAbsent.run(key, value);
    return this.statements.getMeta.get(key)!.value;
  }
}
