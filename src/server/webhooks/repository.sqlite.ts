import type { SqliteDb } from '../store/sqlite.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import { type WebhookRecord, type WebhooksRepository, type WebhookRow, toWebhook } from './repository.ts';

export class SqliteWebhooksRepository implements WebhooksRepository {
  readonly announcesChanges = false;
  private readonly statements;

  /** `writes`: concurrent registrations share a commit */
  constructor(
    db: SqliteDb,
    private readonly writes: GroupCommit,
  ) {
    this.statements = {
      upsertWebhook: db.prepare<[string, string, string, string, string | null, number, number], WebhookRow>(
        `INSERT INTO webhooks (user_id, id, url, event, device_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, id) DO UPDATE SET
           url = excluded.url,
           event = excluded.event,
           device_id = excluded.device_id,
           updated_at = excluded.updated_at
         RETURNING *`,
      ),
      listUserWebhooks: db.prepare<[string], WebhookRow>(
        `SELECT * FROM webhooks WHERE user_id = ? ORDER BY created_at, id`,
      ),
      listDeviceWebhooks: db.prepare<[string, string], WebhookRow>(
        `SELECT * FROM webhooks
         WHERE user_id = ? AND (device_id IS NULL OR device_id = ?)
         ORDER BY created_at, id`,
      ),
      deleteUserWebhook: db.prepare<[string, string]>(`DELETE FROM webhooks WHERE user_id = ? AND id = ?`),
      deleteDeviceWebhooks: db.prepare<[string, string]>(`DELETE FROM webhooks WHERE user_id = ? AND device_id = ?`),
    };
  }

  async upsertWebhook(w: WebhookRecord): Promise<WebhookRecord> {
    const row = await this.writes.run(() =>
      this.statements.upsertWebhook.get(w.userId, w.id, w.url, w.event, w.deviceId, w.createdAt, w.updatedAt)!,
    );
    return toWebhook(row);
  }

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    return this.statements.listUserWebhooks.all(userId).map(toWebhook);
  }

  async listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    return this.statements.listDeviceWebhooks.all(userId, deviceId).map(toWebhook);
  }

  async deleteUserWebhook(userId: string, id: string): Promise<boolean> {
    return (await this.writes.run(() => this.statements.deleteUserWebhook.run(userId, id).changes)) === 1;
  }

  async deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number> {
    return this.writes.run(() => this.statements.deleteDeviceWebhooks.run(userId, deviceId).changes);
  }
}
