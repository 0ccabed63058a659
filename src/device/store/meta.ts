import type { Db } from './database.ts';

/** Small durable key/value facts of the device: its id, credentials, settings, link registration. */
export class MetaStore {
  private readonly statements;

  constructor(db: Db) {
    this.statements = {
      get: db.prepare<[string], { value: string }>(`SELECT value FROM meta WHERE key = ?`),
      set: db.prepare<[string, string]>(
        `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
      insertIfAbsent: db.prepare<[string, string]>(
        `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
      ),
      delete: db.prepare<[string]>(`DELETE FROM meta WHERE key = ?`),
    };
  }

  get(key: string): string | undefined {
    return this.statements.get.get(key)?.value;
  }

  set(key: string, value: string): void {
    this.statements.set.run(key, value);
  }

  delete(key: string): void {
    this.statements.delete.run(key);
  }

  /** Read a value, creating it with `make` the first time; safe if two callers race. */
  getOrCreate(key: string, make: () => string): string {
    this.statements.insertIfAbsent.run(key, make());
    return this.get(key)!;
  }

  getJson<T>(key: string): T | undefined {
    const raw = this.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  setJson(key: string, value: unknown): void {
    this.set(key, JSON.stringify(value));
  }
}
