import { query, type PgPool } from './postgres.ts';
import { META_SQL, type MetaRepository } from './meta.ts';

export class PostgresMetaRepository implements MetaRepository {
  constructor(private readonly pool: PgPool) {}

  async getMeta(key: string): Promise<string | undefined> {
    const { rows } = await query(this.pool, META_SQL.getMeta, { key });
    return rows[0]?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    // Two statements on purpose: the read runs after the insert (or the racing insert it waited
    // for) has committed, so every node reads back the first writer's value.
    await query(this.pool, META_SQL.insertMetaIfAbsent, { key, value });
    return (await this.getMeta(key))!;
  }
}
