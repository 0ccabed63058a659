import type { Db } from './database.ts';

/** Small durable key/value facts of the device: its id, credentials, settings, link registration. */
export class MetaStore {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = ?`).get(key) as { value: string } | undefined;
    return row?.value;
  }

  set(key: string, value: string): void {
    this.db
      .prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
      .run(key, value);
  }

  delete(key: string): void {
    this.db.prepare(`DELETE FROM meta WHERE key = ?`).run(key);
  }

  /** Read a value, creating it with `make` the first time; safe if two callers race. */
  getOrCreate(key: string, make: () => string): string {
    this.db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`).run(key, make());
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
