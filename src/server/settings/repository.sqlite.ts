import type { Settings } from '../../protocol/index.ts';
import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import { parseDocument, SETTINGS_SQL } from './repository.shared.ts';
import { mergeSettingsDocument, replaceSettingsDocument, type SettingsRepository } from './repository.ts';

export class SqliteSettingsRepository implements SettingsRepository {
  private readonly statements;

  constructor(private readonly db: SqliteDb) {
    this.statements = {
      ...prepareAll(db, SETTINGS_SQL),
      getUserSettings: db.prepare<{ userId: string }, { document: string }>(
        `SELECT document FROM user_settings WHERE user_id = :userId`,
      ),
      storeUserSettings: db.prepare<{ userId: string; document: string; now: number }>(
        `INSERT INTO user_settings (user_id, document, updated_at) VALUES (:userId, :document, :now)
         ON CONFLICT (user_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
      ),
    };
  }

  async getUserSettings(userId: string): Promise<Settings> {
    const row = this.statements.getUserSettings.get({ userId });
    return row ? (JSON.parse(row.document) as Settings) : {};
  }

  /** read, change, write under the write lock (IMMEDIATE), so two writers cannot interleave */
  private update(userId: string, now: number, change: (current: Settings) => Settings): Settings {
    return this.db
      .transaction(() => {
        const row = this.statements.getUserSettings.get({ userId });
        const next = change(row ? (JSON.parse(row.document) as Settings) : {});
        this.statements.storeUserSettings.run({ userId, document: JSON.stringify(next), now });
        return next;
      })
      .immediate();
  }

  async usersPage(after: string, limit: number): Promise<{ userId: string; settings: Settings }[]> {
    return this.statements.usersPage
      .all({ after, limit })
      .map((row) => ({ userId: row.user_id, settings: parseDocument(row.document) }));
  }

  async patchUserSettings(userId: string, patch: Settings, now: number): Promise<Settings> {
    return this.update(userId, now, (current) => mergeSettingsDocument(current, patch));
  }

  async replaceUserSettings(userId: string, document: Settings, now: number): Promise<Settings> {
    return this.update(userId, now, (current) => replaceSettingsDocument(current, document));
  }
}
