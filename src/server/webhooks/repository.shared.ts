import type { EventName } from '../../protocol/index.ts';
import { sql } from '../store/sql.ts';
import type { WebhookRecord } from './repository.ts';

/** A row of the table as both stores return it. */
export interface WebhookRow {
  user_id: string;
  id: string;
  url: string;
  event: string;
  device_id: string | null;
  created_at: number;
  updated_at: number;
}

export const WEBHOOK_COLUMNS = 'user_id, id, url, event, device_id, created_at, updated_at';

export const toWebhook = (row: WebhookRow): WebhookRecord => ({
  userId: row.user_id,
  id: row.id,
  url: row.url,
  event: row.event as EventName,
  deviceId: row.device_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * The webhooks statements both stores write alike: the reads. Writes differ: on PostgreSQL each
 * one also NOTIFYs, and registrations arriving together share one statement.
 */
export const WEBHOOKS_SQL = {
  listUserWebhooks: sql<{ userId: string }, WebhookRow>(
    'webhooks.list-user',
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE user_id = :userId ORDER BY created_at, id`,
  ),
  listDeviceWebhooks: sql<{ userId: string; deviceId: string }, WebhookRow>(
    'webhooks.list-device',
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks
     WHERE user_id = :userId AND (device_id IS NULL OR device_id = :deviceId)
     ORDER BY created_at, id`,
  ),
};
