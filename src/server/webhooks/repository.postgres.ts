import { EVENTS_CHANNEL, userEventNotification } from '../push/hub.postgres.ts';
import { WriteBatcher } from '../store/write-batcher.ts';
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

  upsertWebhook(w: WebhookRecord): Promise<WebhookRecord> {
    return this.upserts.submit(w);
  }

  /**
   * Concurrent registrations in one statement: one round trip, one commit, one NOTIFY per user.
   * Of several writes to one (user, id) in a batch the last is stored (the database would refuse
   * to update a row twice in one statement); each earlier one is answered as if it had been
   * stored and then replaced, which is what running them in turn would have left.
   */
  private readonly upserts = new WriteBatcher<WebhookRecord, WebhookRecord>(async (batch) => {
    const last = new Map<string, WebhookRecord>();
    for (const w of batch) last.set(`${w.userId}\0${w.id}`, w);
    // in key order, so that batches on other nodes lock shared rows in the same order (no deadlock)
    const rows = [...last.values()].sort((a, b) =>
      a.userId === b.userId ? (a.id < b.id ? -1 : 1) : a.userId < b.userId ? -1 : 1,
    );
    const notifications = [...new Set(rows.map((w) => w.userId))].map(
      (userId) => userEventNotification(userId, 'WebhooksUpdated').payload,
    );
    // Only what the database decides comes back (created_at: kept from an existing row); the rest of
    // each stored row is what was sent, and parsing whole rows was a measurable part of a batch.
    const { rows: stored } = await this.pool.query<Pick<WebhookRow, 'user_id' | 'id' | 'created_at'>>({
      name: 'webhooks-upsert-batch',
      text: `WITH stored AS (
               INSERT INTO webhooks (user_id, id, url, event, device_id, created_at, updated_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
               ON CONFLICT (user_id, id) DO UPDATE SET
                 url = excluded.url,
                 event = excluded.event,
                 device_id = excluded.device_id,
                 updated_at = excluded.updated_at
               RETURNING user_id, id, created_at
             ),
             announced AS (SELECT pg_notify($8, payload) FROM unnest($9::text[]) AS payload)
             SELECT stored.*, (SELECT count(*) FROM announced) AS announced FROM stored`,
      values: [
        rows.map((w) => w.userId),
        rows.map((w) => w.id),
        rows.map((w) => w.url),
        rows.map((w) => w.event),
        rows.map((w) => w.deviceId),
        rows.map((w) => w.createdAt),
        rows.map((w) => w.updatedAt),
        EVENTS_CHANNEL,
        notifications,
      ],
    });
    const createdAt = new Map(stored.map((row) => [`${row.user_id}\0${row.id}`, row.created_at]));
    return batch.map((w) => ({ ...w, createdAt: createdAt.get(`${w.userId}\0${w.id}`)! }));
  });

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
