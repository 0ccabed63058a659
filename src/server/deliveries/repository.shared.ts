import type { AttemptOutcome, EventName, WebhookSource } from '../../protocol/index.ts';
import { sql, type Sql } from '../store/sql.ts';
import type { DeliveryListFilter, DeviceAttemptRecord, DeviceDeliveryRecord } from './repository.ts';
import {
  attemptBucketsSql,
  messageBucketsSql,
  type AttemptBucketRow,
  type FailingWebhookRow,
  type MessageBucketRow,
  type QueueMoveRow,
  type StatsWindow,
} from '../../shared/stats.ts';

/** A row as both stores return it. */
export interface DeviceDeliveryRow {
  seq: number;
  device_id: string;
  user_id: string;
  id: string;
  event_id: string;
  event: string;
  webhook_source: string;
  webhook_id: string;
  url: string;
  state: string;
  attempts: number;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  reported_at: number;
}

export interface DeviceAttemptRow {
  number: number;
  started_at: number;
  duration_ms: number;
  status: number | null;
  error: string | null;
  response_preview: string | null;
  outcome: string;
}

export const DEVICE_DELIVERY_COLUMNS =
  'seq, device_id, user_id, id, event_id, event, webhook_source, webhook_id, url, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, reported_at';
export const DEVICE_ATTEMPT_COLUMNS = 'number, started_at, duration_ms, status, error, response_preview, outcome';

export const toDeviceDelivery = (row: DeviceDeliveryRow): DeviceDeliveryRecord => ({
  seq: row.seq,
  deviceId: row.device_id,
  userId: row.user_id,
  id: row.id,
  eventId: row.event_id,
  event: row.event as EventName,
  webhookSource: row.webhook_source as WebhookSource,
  webhookId: row.webhook_id,
  url: row.url,
  state: row.state as DeviceDeliveryRecord['state'],
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  lastStatus: row.last_status,
  lastError: row.last_error,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  reportedAt: row.reported_at,
});

export const toDeviceAttempt = (row: DeviceAttemptRow): DeviceAttemptRecord => ({
  number: row.number,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  status: row.status,
  error: row.error,
  responsePreview: row.response_preview,
  outcome: row.outcome as AttemptOutcome,
});

/**
 * The deliveries statements both stores write alike: the pruning after a report. A report's rows
 * are written differently (PostgreSQL: the whole report in one statement per table, with unnest).
 */
/**
 * How a report's delivery meets the stored one (`d`, the table's alias): it replaces it only when
 * newer (more attempts, or as many and a later updatedAt), so reports arriving late or twice never
 * move a delivery back.
 */
export const UPSERT_NEWER_DELIVERY = `ON CONFLICT (device_id, id) DO UPDATE SET
       state = excluded.state, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
       last_status = excluded.last_status, last_error = excluded.last_error, updated_at = excluded.updated_at,
       reported_at = excluded.reported_at
     WHERE excluded.attempts > d.attempts
        OR (excluded.attempts = d.attempts AND excluded.updated_at > d.updated_at)`;

export const DELIVERIES_SQL = {
  // Finished deliveries older than the device's newest `keep` (their attempts go with them). One
  // still pending stays: it may be retried, and if it were gone its next report would bring its
  // attempts back as new (counted twice).
  pruneFinished: sql<{ deviceId: string; keep: number }>(
    'device-deliveries.prune-finished',
    `DELETE FROM device_deliveries
      WHERE device_id = :deviceId AND state <> 'pending'
        AND seq <= (SELECT seq FROM device_deliveries WHERE device_id = :deviceId ORDER BY seq DESC LIMIT 1 OFFSET :keep)`,
  ),
  // The hard bound, pending or not (a device with a huge backlog): checked when nothing finished went.
  pruneAny: sql<{ deviceId: string; keep: number }>(
    'device-deliveries.prune-any',
    `DELETE FROM device_deliveries
      WHERE device_id = :deviceId
        AND seq <= (SELECT seq FROM device_deliveries WHERE device_id = :deviceId ORDER BY seq DESC LIMIT 1 OFFSET :keep)`,
  ),
  // The retention purge: a batch of the user's finished deliveries last stored before the cutoff
  // (index device_deliveries_finished; their attempts go with them, ON DELETE CASCADE). The guard
  // is repeated on the rows deleted: one redelivered meanwhile (pending again) stays.
  purgeExpired: sql<{ userId: string; cutoff: number; limit: number }>(
    'device-deliveries.purge-expired',
    `DELETE FROM device_deliveries
      WHERE seq IN (SELECT seq FROM device_deliveries
                     WHERE user_id = :userId AND state <> 'pending' AND reported_at < :cutoff
                     ORDER BY reported_at LIMIT :limit)
        AND state <> 'pending' AND reported_at < :cutoff`,
  ),
};

export type DeliveryListParams = { userId: string } & DeliveryListFilter;

/**
 * The user's deliveries, newest first, filtered: a fixed set of optional conditions, each a bound
 * parameter, never spliced text; one statement per set of conditions used. The same on both stores.
 */
export function deliveryList(filter: DeliveryListFilter): Sql<DeliveryListParams, DeviceDeliveryRow> {
  const conditions: [keyof DeliveryListFilter, string][] = [
    ['state', 'state = :state'],
    ['event', 'event = :event'],
    ['webhookId', 'webhook_id = :webhookId'],
    ['deviceId', 'device_id = :deviceId'],
    ['before', 'seq < :before'],
  ];
  // an empty text filters nothing, a `before` of 0 does
  const used = conditions.filter(([key]) => (key === 'before' ? filter.before !== undefined : Boolean(filter[key])));
  const where = ['user_id = :userId', ...used.map(([, condition]) => condition)].join(' AND ');
  return sql(
    `device-deliveries.list[${used.map(([key]) => key).join(',')}]`,
    `SELECT ${DEVICE_DELIVERY_COLUMNS} FROM device_deliveries WHERE ${where} ORDER BY seq DESC LIMIT :limit`,
  );
}

type StatsParams = { userId: string; since: number; until: number; bucketMs: number };

/**
 * The Overview's aggregates over what the user's devices reported, in one-minute buckets; the same
 * text on both stores. Attempts are read by the time they started (an index) and their delivery
 * looked up; SQLite takes a CROSS JOIN's order as written, so it does not walk every delivery of the
 * user first. Message states live beside the deliveries because the Overview reads them
 * together; the message_states table is the messages domain's.
 */
export const STATS_SQL = {
  attempts: sql<StatsParams, AttemptBucketRow>(
    'stats.attempts',
    attemptBucketsSql(
      `SELECT a.started_at - a.started_at % :bucketMs AS bucket, a.duration_ms, a.outcome
         FROM device_attempts a CROSS JOIN device_deliveries d
        WHERE d.device_id = a.device_id AND d.id = a.delivery_id AND d.user_id = :userId
          AND a.started_at >= :since AND a.started_at <= :until`,
    ),
  ),
  messages: sql<StatsParams, MessageBucketRow>(
    'stats.messages',
    messageBucketsSql('message_states', "user_id = :userId AND state IN ('Sent', 'Delivered', 'Failed')"),
  ),
  // a delivery enters the queue when created on its device and leaves it when it finishes (any
  // state but pending: the server never stores `sending`); server migration 0013's index says the same
  queueMoves: sql<StatsParams, QueueMoveRow>(
    'stats.queue-moves',
    `WITH moves AS (
       SELECT created_at - created_at % :bucketMs AS bucket, 1 AS entered, 0 AS finished
         FROM device_deliveries WHERE user_id = :userId AND created_at >= :since AND created_at <= :until
       UNION ALL
       SELECT updated_at - updated_at % :bucketMs, 0, 1
         FROM device_deliveries
        WHERE user_id = :userId AND state <> 'pending'
          AND updated_at >= :since AND updated_at <= :until
     )
     SELECT bucket, SUM(entered) AS entered, SUM(finished) AS finished FROM moves GROUP BY bucket ORDER BY bucket`,
  ),
  queueNow: sql<{ userId: string }, { depth: number | string }>(
    'stats.queue-now',
    `SELECT COUNT(*) AS depth FROM device_deliveries WHERE user_id = :userId AND state = 'pending'`,
  ),
  failing: sql<Omit<StatsParams, 'bucketMs'> & { failingLimit: number }, FailingWebhookRow>(
    'stats.failing-webhooks',
    `WITH failing AS (
       SELECT d.webhook_id, d.url, a.started_at, COALESCE(a.error, 'HTTP ' || a.status) AS error,
              ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY a.started_at DESC, a.number DESC) AS recency,
              COUNT(*) OVER (PARTITION BY d.webhook_id) AS failures
         FROM device_attempts a CROSS JOIN device_deliveries d
        WHERE d.device_id = a.device_id AND d.id = a.delivery_id AND d.user_id = :userId
          AND a.started_at >= :since AND a.started_at <= :until AND a.outcome <> 'succeeded'
     )
     SELECT webhook_id, url, failures, started_at AS last_failed_at, error AS last_error
       FROM failing WHERE recency = 1
      ORDER BY failures DESC, last_failed_at DESC LIMIT :failingLimit`,
  ),
};

export const statsParams = (userId: string, w: StatsWindow) => ({
  attempts: { userId, since: w.since, until: w.until, bucketMs: w.bucketMs },
  failing: { userId, since: w.since, until: w.until, failingLimit: w.failingLimit },
});
