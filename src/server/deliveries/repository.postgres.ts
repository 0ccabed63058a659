import type { ReportedDelivery } from '../../protocol/index.ts';
import { inTransaction, query, type PgPool } from '../store/postgres.ts';
import { sql } from '../store/sql.ts';
import { PENDING_KEPT_FACTOR } from './repository.ts';
import type { DeliveriesRepository, DeliveryDetail, DeliveryListFilter, DeviceDeliveryRecord } from './repository.ts';
import type { ReportingDevice, SavedReport, StatsRows } from './repository.ts';
import {
  DELIVERIES_SQL,
  DEVICE_ATTEMPT_COLUMNS,
  DEVICE_DELIVERY_COLUMNS,
  deliveryList,
  toDeviceAttempt,
  toDeviceDelivery,
  UPSERT_NEWER_DELIVERY,
  type DeviceAttemptRow,
  type DeviceDeliveryRow,
  STATS_SQL,
  statsParams,
} from './repository.shared.ts';
import type { StatsWindow } from '../../shared/stats.ts';

/** A report's rows, each table in one statement for the whole report (unnest); the others: DELIVERIES_SQL. */
const POSTGRES_DELIVERIES_SQL = {
  // Inserted, or replaced only by a newer version of the delivery; RETURNING says which happened.
  upsertDeliveries: sql<
    {
      deviceId: string;
      userId: string;
      ids: string[];
      eventIds: string[];
      events: string[];
      sources: string[];
      webhookIds: string[];
      urls: string[];
      states: string[];
      attempts: number[];
      nextAttemptAts: (number | null)[];
      lastStatuses: (number | null)[];
      lastErrors: (string | null)[];
      createdAts: number[];
      updatedAts: number[];
      now: number;
    },
    { id: string; state: string; attempts: number }
  >(
    'device-deliveries.upsert-batch',
    `INSERT INTO device_deliveries AS d (device_id, user_id, id, event_id, event, webhook_source, webhook_id, url, state, attempts,
                                        next_attempt_at, last_status, last_error, created_at, updated_at, reported_at)
     SELECT :deviceId, :userId, t.id, t.event_id, t.event, t.webhook_source, t.webhook_id, t.url, t.state, t.attempts,
            t.next_attempt_at, t.last_status, t.last_error, t.created_at, t.updated_at, :now
       FROM unnest(:ids::text[], :eventIds::text[], :events::text[], :sources::text[], :webhookIds::text[], :urls::text[],
                   :states::text[], :attempts::int[], :nextAttemptAts::bigint[], :lastStatuses::int[], :lastErrors::text[],
                   :createdAts::bigint[], :updatedAts::bigint[])
         AS t(id, event_id, event, webhook_source, webhook_id, url, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at)
     ${UPSERT_NEWER_DELIVERY}
     RETURNING d.id, d.state, d.attempts`,
  ),
  // Attempts never change once made: a re-reported one is ignored, and not returned.
  insertAttempts: sql<
    {
      deviceId: string;
      deliveryIds: string[];
      numbers: number[];
      startedAts: number[];
      durations: number[];
      statuses: (number | null)[];
      errors: (string | null)[];
      previews: (string | null)[];
      outcomes: string[];
    },
    { delivery_id: string } & DeviceAttemptRow
  >(
    'device-attempts.insert-batch',
    `INSERT INTO device_attempts (device_id, delivery_id, number, started_at, duration_ms, status, error, response_preview, outcome)
     SELECT :deviceId, t.* FROM unnest(:deliveryIds::text[], :numbers::int[], :startedAts::bigint[], :durations::int[],
                                       :statuses::int[], :errors::text[], :previews::text[], :outcomes::text[])
       AS t(delivery_id, number, started_at, duration_ms, status, error, response_preview, outcome)
     ON CONFLICT DO NOTHING
     RETURNING delivery_id, ${DEVICE_ATTEMPT_COLUMNS}`,
  ),
  // The delivery and its attempts in one statement (one snapshot).
  getUserDelivery: sql<{ userId: string; id: string }, DeviceDeliveryRow & { attempt_log: DeviceAttemptRow[] }>(
    'device-deliveries.get',
    `SELECT ${DEVICE_DELIVERY_COLUMNS.split(', ')
      .map((column) => `d.${column}`)
      .join(', ')},
            COALESCE((SELECT json_agg(json_build_object('number', a.number, 'started_at', a.started_at, 'duration_ms', a.duration_ms,
                                                        'status', a.status, 'error', a.error, 'response_preview', a.response_preview,
                                                        'outcome', a.outcome) ORDER BY a.number)
                        FROM device_attempts a WHERE a.device_id = d.device_id AND a.delivery_id = d.id), '[]'::json) AS attempt_log
       FROM device_deliveries d WHERE d.user_id = :userId AND d.id = :id ORDER BY d.seq DESC LIMIT 1`,
  ),
};

export class PostgresDeliveriesRepository implements DeliveriesRepository {
  constructor(private readonly pool: PgPool) {}

  /**
   * Three statements in one transaction, each for the whole report (unnest): the deliveries, their
   * attempts, the pruning. Rows go in id order, so two reports of one device racing through two
   * nodes lock them in the same order.
   */
  saveReport(
    device: ReportingDevice,
    deliveries: readonly ReportedDelivery[],
    now: number,
    keep: number,
  ): Promise<SavedReport> {
    const { id: deviceId, userId } = device;
    const ds = [...deliveries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const attempts = ds.flatMap((d) => d.attemptLog.map((a) => ({ deliveryId: d.id, ...a })));
    return inTransaction(this.pool, async (client) => {
      const { rows: changed } = await query(client, POSTGRES_DELIVERIES_SQL.upsertDeliveries, {
        deviceId,
        userId,
        ids: ds.map((d) => d.id),
        eventIds: ds.map((d) => d.eventId),
        events: ds.map((d) => d.event),
        sources: ds.map((d) => d.source),
        webhookIds: ds.map((d) => d.webhookId),
        urls: ds.map((d) => d.url),
        states: ds.map((d) => d.state),
        attempts: ds.map((d) => d.attempts),
        nextAttemptAts: ds.map((d) => d.nextAttemptAt),
        lastStatuses: ds.map((d) => d.lastStatus),
        lastErrors: ds.map((d) => d.lastError),
        createdAts: ds.map((d) => d.createdAt),
        updatedAts: ds.map((d) => d.updatedAt),
        now,
      });
      const { rows: inserted } = await query(client, POSTGRES_DELIVERIES_SQL.insertAttempts, {
        deviceId,
        deliveryIds: attempts.map((a) => a.deliveryId),
        numbers: attempts.map((a) => a.number),
        startedAts: attempts.map((a) => a.startedAt),
        durations: attempts.map((a) => a.durationMs),
        statuses: attempts.map((a) => a.status),
        errors: attempts.map((a) => a.error),
        previews: attempts.map((a) => a.responsePreview),
        outcomes: attempts.map((a) => a.outcome),
      });
      const finished = await query(client, DELIVERIES_SQL.pruneFinished, { deviceId, keep });
      if (finished.rowCount === 0) {
        await query(client, DELIVERIES_SQL.pruneAny, { deviceId, keep: keep * PENDING_KEPT_FACTOR });
      }
      return {
        changed,
        newAttempts: inserted.map((row) => ({ deliveryId: row.delivery_id, ...toDeviceAttempt(row) })),
      };
    });
  }

  async listUserDeliveries(userId: string, filter: DeliveryListFilter): Promise<DeviceDeliveryRecord[]> {
    const { rows } = await query(this.pool, deliveryList(filter), { userId, ...filter });
    return rows.map(toDeviceDelivery);
  }

  async activityStats(userId: string, window: StatsWindow): Promise<StatsRows> {
    const params = statsParams(userId, window);
    const [attempts, messages, failing, queueMoves, queueNow] = await Promise.all([
      query(this.pool, STATS_SQL.attempts, params.attempts),
      query(this.pool, STATS_SQL.messages, params.attempts),
      query(this.pool, STATS_SQL.failing, params.failing),
      query(this.pool, STATS_SQL.queueMoves, params.attempts),
      query(this.pool, STATS_SQL.queueNow, { userId }),
    ]);
    return {
      attempts: attempts.rows,
      messages: messages.rows,
      failing: failing.rows,
      queueMoves: queueMoves.rows,
      queueNow: Number(queueNow.rows[0].depth),
    };
  }

  async purgeExpired(userId: string, cutoff: number, limit: number): Promise<number> {
    return (await query(this.pool, DELIVERIES_SQL.purgeExpired, { userId, cutoff, limit })).rowCount ?? 0;
  }

  async getUserDelivery(userId: string, id: string): Promise<DeliveryDetail | undefined> {
    const { rows } = await query(this.pool, POSTGRES_DELIVERIES_SQL.getUserDelivery, { userId, id });
    const row = rows[0];
    return row && { ...toDeviceDelivery(row), attemptLog: row.attempt_log.map(toDeviceAttempt) };
  }
}
