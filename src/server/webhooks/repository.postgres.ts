import { userEventNotification } from '../events/hub.postgres.ts';
import type { PgPool } from '../store/postgres.ts';
import { type WebhookRecord, type WebhooksRepository, type WebhookRow, toWebhook } from './repository.ts';

/**
 * Every write NOTIFYs the user's `WebhooksUpdated` in its own statement: the news commits with the
 * change (never one without the other, even if this process dies right after) and costs no extra
 * round trip. Each node's hub delivers it to the user's devices and drops its cached list.
 */
export class PostgresWebhooksRepository implements WebhooksRepository {
  readonly announcesChanges = true;

  constructor(private readonly pool: PgPool) {}

  async upsertWebhook(w: WebhookRecord): Promise<WebhookRecord> {
    const { channel, payload } = userEventNotification(w.userId, 'WebhooksUpdated');
    // One statement: of racing upserts of one (user, id), the later ones wait and update the row the first inserted.
    const { rows } = await this.pool.query<WebhookRow>({
      name: 'webhooks-upsert',
      text: `WITH stored AS (
               INSERT INTO webhooks (user_id, id, url, event, device_id, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (user_id, id) DO UPDATE SET
                 url = excluded.url,
                 event = excluded.event,
                 device_id = excluded.device_id,
                 updated_at = excluded.updated_at
               RETURNING *
             )
             SELECT stored.*, pg_notify($8, $9) IS NULL AS announced FROM stored`,
      values: [w.userId, w.id, w.url, w.event, w.deviceId, w.createdAt, w.updatedAt, channel, payload],
    });
    return toWebhook(rows[0]);
  }

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    const { rows } = await this.pool.query<WebhookRow>({
      name: 'webhooks-list-user',
      text: `SELECT * FROM webhooks WHERE user_id = $1 ORDER BY created_at, id`,
      values: [userId],
    });
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
    return (await this.deleteAndAnnounce(userId, `user_id = $1 AND id = $2`, [userId, id])) === 1;
  }

  async deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number> {
    return this.deleteAndAnnounce(userId, `user_id = $1 AND device_id = $2`, [userId, deviceId]);
  }

  /** Delete the matching rows and, only if there were any, NOTIFY in the same statement. */
  private async deleteAndAnnounce(userId: string, where: string, values: string[]): Promise<number> {
    const { channel, payload } = userEventNotification(userId, 'WebhooksUpdated');
    const { rows } = await this.pool.query<{ deleted: number }>(
      `WITH gone AS (DELETE FROM webhooks WHERE ${where} RETURNING 1),
            announced AS (SELECT pg_notify($3, $4) FROM gone LIMIT 1)
       SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM announced) AS announced`,
      [...values, channel, payload],
    );
    return rows[0].deleted;
  }
}
