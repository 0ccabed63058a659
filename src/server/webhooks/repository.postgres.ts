import { EVENTS_CHANNEL, userEventNotification } from '../push/hub.postgres.ts';
import { WriteBatcher } from '../store/write-batcher.ts';
import { query, type PgPool } from '../store/postgres.ts';
import { sql } from '../store/sql.ts';
import type { WebhookRecord, WebhooksRepository } from './repository.ts';
import { toWebhook, WEBHOOKS_SQL, type WebhookRow } from './repository.shared.ts';

/** The writes, each of which NOTIFYs in the same statement (the reads: WEBHOOKS_SQL). */
const POSTGRES_WEBHOOKS_SQL = {
  upsertWebhooks: sql<
    {
      userIds: string[];
      ids: string[];
      urls: string[];
      events: string[];
      deviceIds: (string | null)[];
      createdAts: number[];
      updatedAts: number[];
      channel: string;
      notifications: string[];
    },
    Pick<WebhookRow, 'user_id' | 'id' | 'created_at'>
  >(
    'webhooks.upsert-batch',
    `WITH stored AS (
       INSERT INTO webhooks (user_id, id, url, event, device_id, created_at, updated_at)
       SELECT * FROM unnest(:userIds::text[], :ids::text[], :urls::text[], :events::text[], :deviceIds::text[],
                            :createdAts::bigint[], :updatedAts::bigint[])
       ON CONFLICT (user_id, id) DO UPDATE SET
         url = excluded.url,
         event = excluded.event,
         device_id = excluded.device_id,
         updated_at = excluded.updated_at
       RETURNING user_id, id, created_at
     ),
     announced AS (SELECT pg_notify(:channel, payload) FROM unnest(:notifications::text[]) AS payload)
     SELECT stored.*, (SELECT count(*) FROM announced) AS announced FROM stored`,
  ),
  // Delete the matching rows and, only if there were any, NOTIFY in the same statement.
  deleteUserWebhook: sql<{ userId: string; id: string; channel: string; payload: string }, { deleted: number }>(
    'webhooks.delete',
    `WITH gone AS (DELETE FROM webhooks WHERE user_id = :userId AND id = :id RETURNING 1),
          announced AS (SELECT pg_notify(:channel, :payload) FROM gone LIMIT 1)
     SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM announced) AS announced`,
  ),
  deleteDeviceWebhooks: sql<
    { userId: string; deviceId: string; channel: string; payload: string },
    { deleted: number }
  >(
    'webhooks.delete-of-device',
    `WITH gone AS (DELETE FROM webhooks WHERE user_id = :userId AND device_id = :deviceId RETURNING 1),
          announced AS (SELECT pg_notify(:channel, :payload) FROM gone LIMIT 1)
     SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM announced) AS announced`,
  ),
};

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
    const { rows: stored } = await query(this.pool, POSTGRES_WEBHOOKS_SQL.upsertWebhooks, {
      userIds: rows.map((w) => w.userId),
      ids: rows.map((w) => w.id),
      urls: rows.map((w) => w.url),
      events: rows.map((w) => w.event),
      deviceIds: rows.map((w) => w.deviceId),
      createdAts: rows.map((w) => w.createdAt),
      updatedAts: rows.map((w) => w.updatedAt),
      channel: EVENTS_CHANNEL,
      notifications,
    });
    const createdAt = new Map(stored.map((row) => [`${row.user_id}\0${row.id}`, row.created_at]));
    return batch.map((w) => ({ ...w, createdAt: createdAt.get(`${w.userId}\0${w.id}`)! }));
  });

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    const { rows } = await query(this.pool, WEBHOOKS_SQL.listUserWebhooks, { userId });
    return rows.map(toWebhook);
  }

  async listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    const { rows } = await query(this.pool, WEBHOOKS_SQL.listDeviceWebhooks, { userId, deviceId });
    return rows.map(toWebhook);
  }

  async deleteUserWebhook(userId: string, id: string): Promise<boolean> {
    const announce = userEventNotification(userId, 'WebhooksUpdated');
    const { rows } = await query(this.pool, POSTGRES_WEBHOOKS_SQL.deleteUserWebhook, { userId, id, ...announce });
    return rows[0].deleted === 1;
  }

  async deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number> {
    const announce = userEventNotification(userId, 'WebhooksUpdated');
    const { rows } = await query(this.pool, POSTGRES_WEBHOOKS_SQL.deleteDeviceWebhooks, {
      userId,
      deviceId,
      ...announce,
    });
    return rows[0].deleted;
  }
}
