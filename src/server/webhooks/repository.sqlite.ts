import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { WebhookRecord, WebhooksRepository } from './repository.ts';
import { toWebhook, WEBHOOK_COLUMNS, WEBHOOKS_SQL, type WebhookRow } from './repository.shared.ts';

export class SqliteWebhooksRepository implements WebhooksRepository {
  readonly announcesChanges = false;
  private readonly statements;

  /** `writes`: concurrent registrations share a commit */
  constructor(
    db: SqliteDb,
    private readonly writes: GroupCommit,
  ) {
    this.statements = {
      ...prepareAll(db, WEBHOOKS_SQL),
      upsertWebhook: db.prepare<WebhookRecord, WebhookRow>(
        `INSERT INTO webhooks (user_id, id, url, event, device_id, created_at, updated_at)
         VALUES (:userId, :id, :url, :event, :deviceId, :createdAt, :updatedAt)
         ON CONFLICT (user_id, id) DO UPDATE SET
           url = excluded.url,
           event = excluded.event,
           device_id = excluded.device_id,
           updated_at = excluded.updated_at
         RETURNING ${WEBHOOK_COLUMNS}`,
      ),
      deleteUserWebhook: db.prepare<{ userId: string; id: string }>(
        `DELETE FROM webhooks WHERE user_id = :userId AND id = :id`,
      ),
      deleteDeviceWebhooks: db.prepare<{ userId: string; deviceId: string }>(
        `DELETE FROM webhooks WHERE user_id = :userId AND device_id = :deviceId`,
      ),
    };
  }

  async upsertWebhook(webhook: WebhookRecord): Promise<WebhookRecord> {
    return toWebhook(await this.writes.run(() => this.statements.upsertWebhook.get(webhook)!));
  }

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    return this.statements.listUserWebhooks.all({ userId }).map(toWebhook);
  }

  async listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    return this.statements.listDeviceWebhooks.all({ userId, deviceId }).map(toWebhook);
  }

  async deleteUserWebhook(userId: string, id: string): Promise<boolean> {
    return (await this.writes.run(() => this.statements.deleteUserWebhook.run({ userId, id }).changes)) === 1;
  }

  async deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number> {
    return this.writes.run(() => this.statements.deleteDeviceWebhooks.run({ userId, deviceId }).changes);
  }
}
