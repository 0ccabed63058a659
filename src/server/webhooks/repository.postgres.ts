import type { PgPool } from '../store/postgres.ts';
import { type WebhookRecord, type WebhooksRepository, type WebhookRow, toWebhook } from './repository.ts';

export class PostgresWebhooksRepository implements WebhooksRepository {
  constructor(private readonly pool: PgPool) {}

  async upsertWebhook(w: WebhookRecord): Promise<WebhookRecord> {
    // One statement: of racing upserts of one (user, id), the later ones wait and update the row the first inserted.
    const { rows } = await this.pool.query<WebhookRow>(
      `INSERT INTO webhooks (user_id, id, url, event, device_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (user_id, id) DO UPDATE SET
         url = excluded.url,
         event = excluded.event,
         device_id = excluded.device_id,
         updated_at = excluded.updated_at
       RETURNING *`,
      [w.userId, w.id, w.url, w.event, w.deviceId, w.createdAt, w.updatedAt],
    );
    return toWebhook(rows[0]);
  }

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    const { rows } = await this.pool.query<WebhookRow>(`SELECT * FROM webhooks WHERE user_id = $1 ORDER BY created_at, id`, [userId]);
    return rows.map(toWebhook);
  }

  async listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    const { rows } = await this.pool.query<WebhookRow>(
      `SELECT * FROM webhooks
       WHERE user_id = $1 AND (device_id IS NULL OR device_id = $2)
       ORDER BY created_at, id`,
      [userId, deviceId],
    );
    return rows.map(toWebhook);
  }

  async deleteUserWebhook(userId: string, id: string): Promise<boolean> {
    const result = await this.pool.query(`DELETE FROM webhooks WHERE user_id = $1 AND id = $2`, [userId, id]);
    return result.rowCount === 1;
  }

  async deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number> {
    const result = await this.pool.query(`DELETE FROM webhooks WHERE user_id = $1 AND device_id = $2`, [userId, deviceId]);
    return result.rowCount ?? 0;
  }
}
