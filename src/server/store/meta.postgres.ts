import type { PgPool } from './postgres.ts';
import type { MetaRepository } from './meta.ts';

export class PostgresMetaRepository implements MetaRepository {
  constructor(private readonly pool: PgPool) {}

  async getMeta(key: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ value: string }>(`SELECT value FROM server_meta WHERE key = $1`, [key]);
    return rows[0]?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    // Two statements on purpose: the read runs after the insert (or the racing insert it waited
    // for) has committed, so every node reads back the first writer's value.
    await this.pool.query(`INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [
      key,
      value,
    ]);
    return (await this.getMeta(key))!;
  }
}
