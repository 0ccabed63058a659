import type { Settings } from '../../protocol/index.ts';
import { inTransaction, query, type PgPool } from '../store/postgres.ts';
import { sql } from '../store/sql.ts';
import { READ_BATCHES_IN_FLIGHT, WriteBatcher } from '../store/write-batcher.ts';
import { parseDocument, SETTINGS_SQL } from './repository.shared.ts';
import { mergeSettingsDocument, replaceSettingsDocument, type SettingsRepository } from './repository.ts';

/**
 * A user's settings row. No statement is the same text as SQLite's: reads are batched, and a
 * change locks the row (FOR UPDATE) where SQLite takes its one write lock.
 */
const POSTGRES_SETTINGS_SQL = {
  getUserSettings: sql<{ userIds: string[] }, { user_id: string; document: string }>(
    'user-settings.by-users',
    `SELECT user_id, document FROM user_settings WHERE user_id = ANY(:userIds::text[])`,
  ),
  // so that there is always a row to lock
  ensureRow: sql<{ userId: string; now: number }>(
    'user-settings.ensure-row',
    `INSERT INTO user_settings (user_id, document, updated_at) VALUES (:userId, '{}', :now)
     ON CONFLICT (user_id) DO NOTHING`,
  ),
  lockRow: sql<{ userId: string }, { document: string }>(
    'user-settings.lock-row',
    `SELECT document FROM user_settings WHERE user_id = :userId FOR UPDATE`,
  ),
  storeDocument: sql<{ userId: string; document: string; now: number }>(
    'user-settings.store',
    `UPDATE user_settings SET document = :document, updated_at = :now WHERE user_id = :userId`,
  ),
};

export class PostgresSettingsRepository implements SettingsRepository {
  constructor(private readonly pool: PgPool) {}

  /**
   * A settings change sends every device of the user to pull at once: their reads that arrive
   * together go in one statement. A batch is sent only after each of its reads was asked for, so
   * none is answered from before its own request (a device that pulls after the push sees the change).
   */
  private readonly reads = new WriteBatcher<string, Settings>(
    async (userIds) => {
      const { rows } = await query(this.pool, POSTGRES_SETTINGS_SQL.getUserSettings, {
        userIds: [...new Set(userIds)],
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
      await query(client, POSTGRES_SETTINGS_SQL.ensureRow, { userId, now });
      const { rows } = await query(client, POSTGRES_SETTINGS_SQL.lockRow, { userId });
      const next = change(JSON.parse(rows[0].document) as Settings);
      await query(client, POSTGRES_SETTINGS_SQL.storeDocument, { userId, document: JSON.stringify(next), now });
      return next;
    });
  }

  async usersPage(after: string, limit: number): Promise<{ userId: string; settings: Settings }[]> {
    const { rows } = await query(this.pool, SETTINGS_SQL.usersPage, { after, limit });
    return rows.map((row) => ({ userId: row.user_id, settings: parseDocument(row.document) }));
  }

  async patchUserSettings(userId: string, patch: Settings, now: number): Promise<Settings> {
    return this.update(userId, now, (current) => mergeSettingsDocument(current, patch));
  }

  async replaceUserSettings(userId: string, document: Settings, now: number): Promise<Settings> {
    return this.update(userId, now, (current) => replaceSettingsDocument(current, document));
  }
}
