import type { Settings } from '../../protocol/index.ts';
import { inTransaction, type PgPool } from '../store/postgres.ts';
import { mergeSettingsDocument, replaceSettingsDocument, type SettingsRepository } from './repository.ts';

export class PostgresSettingsRepository implements SettingsRepository {
  constructor(private readonly pool: PgPool) {}

  async getUserSettings(userId: string): Promise<Settings> {
    const { rows } = await this.pool.query<{ document: string }>(`SELECT document FROM user_settings WHERE user_id = $1`, [userId]);
    return rows[0] ? (JSON.parse(rows[0].document) as Settings) : {};
  }

  /**
   * Read, change, write with the user's row locked (FOR UPDATE), so two writers on any nodes
   * cannot interleave. The row is made first (empty document) so there is always one to lock.
   */
  private update(userId: string, now: number, change: (current: Settings) => Settings): Promise<Settings> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO user_settings (user_id, document, updated_at) VALUES ($1, '{}', $2)
         ON CONFLICT (user_id) DO NOTHING`,
        [userId, now],
      );
      const { rows } = await client.query<{ document: string }>(`SELECT document FROM user_settings WHERE user_id = $1 FOR UPDATE`, [userId]);
      const next = change(JSON.parse(rows[0].document) as Settings);
      await client.query(`UPDATE user_settings SET document = $2, updated_at = $3 WHERE user_id = $1`, [userId, JSON.stringify(next), now]);
      return next;
    });
  }

  async patchUserSettings(userId: string, patch: Settings, now: number): Promise<Settings> {
    return this.update(userId, now, (current) => mergeSettingsDocument(current, patch));
  }

  async replaceUserSettings(userId: string, document: Settings, now: number): Promise<Settings> {
    return this.update(userId, now, (current) => replaceSettingsDocument(current, document));
  }
}
