import type { Settings } from '../../protocol/index.ts';
import { inTransaction, type PgPool } from '../store/postgres.ts';
import { READ_BATCHES_IN_FLIGHT, WriteBatcher } from '../store/write-batcher.ts';
import { mergeSettingsDocument, replaceSettingsDocument, type SettingsRepository } from './repository.ts';

export class PostgresSettingsRepository implements SettingsRepository {
  constructor(private readonly pool: PgPool) {}

  /**
   * A settings change sends every device of the user to pull at once: their reads that arrive
   * together go in one statement. A batch is sent only after each of its reads was asked for, so
   * none is answered from before its own request (a device that pulls after the push sees the change).
   */
  private readonly reads = new WriteBatcher<string, Settings>(
    async (userIds) => {
      const { rows } = await this.pool.query<{ user_id: string; document: string }>({
        name: 'user-settings-by-users',
        text: `SELECT user_id, document FROM user_settings WHERE user_id = ANY($1::text[])`,
        values: [[...new Set(userIds)]],
      });
      const documents = new Map(rows.map((row) => [row.user_id, row.document]));
      // parsed per caller: each gets a document of its own to change
      return userIds.map((userId) => {
        const document = documents.get(userId);
        return document === undefined ? {} : (JSON.parse(document) as Settings);
      });
    },
    { maxInFlight: READ_BATCHES_IN_FLIGHT, failTogether: true },
  );

  getUserSettings(userId: string): Promise<Settings> {
    return this.reads.submit(userId);
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
      const { rows } = await client.query<{ document: string }>(
        `SELECT document FROM user_settings WHERE user_id = $1 FOR UPDATE`,
        [userId],
      );
      const next = change(JSON.parse(rows[0].document) as Settings);
      await client.query(`UPDATE user_settings SET document = $2, updated_at = $3 WHERE user_id = $1`, [
        userId,
        JSON.stringify(next),
        now,
      ]);
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
