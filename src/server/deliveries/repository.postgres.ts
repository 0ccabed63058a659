import type { ReportedDelivery } from '../../protocol/index.ts';
import { inTransaction, type PgPool } from '../store/postgres.ts';
import {
  DEVICE_ATTEMPT_COLUMNS,
  DEVICE_DELIVERY_COLUMNS,
  deliveryListWhere,
  toDeviceAttempt,
  toDeviceDelivery,
  PENDING_KEPT_FACTOR,
  type DeliveriesRepository,
  type DeliveryListFilter,
  type DeviceAttemptRecord,
  type DeviceAttemptRow,
  type DeviceDeliveryRecord,
  type DeviceDeliveryRow,
  type SavedReport,
} from './repository.ts';

/** `:name` parameters as PostgreSQL's `$n`, in order of first use (casts such as `::bigint` are left alone). */
function positional(sql: string, params: Record<string, unknown>): { text: string; values: unknown[] } {
  const names: string[] = [];
  const text = sql.replace(/(?<![:\w]):([A-Za-z]\w*)/g, (_, name: string) => {
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}`;
  });
  return { text, values: names.map((name) => params[name]) };
}

export class PostgresDeliveriesRepository implements DeliveriesRepository {
  constructor(private readonly pool: PgPool) {}

  /**
   * Three statements in one transaction, each for the whole report (unnest): the deliveries, their
   * attempts, the pruning. Rows go in id order, so two reports of one device racing through two
   * nodes lock them in the same order.
   */
  saveReport(
    deviceId: string,
    userId: string,
    deliveries: readonly ReportedDelivery[],
    now: number,
    keepPerDevice: number,
  ): Promise<SavedReport> {
    const ds = [...deliveries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const attempts = ds.flatMap((d) => d.attemptLog.map((a) => ({ deliveryId: d.id, ...a })));
    return inTransaction(this.pool, async (client) => {
      const { rows: changed } = await client.query<{ id: string; state: string; attempts: number }>({
        name: 'device-deliveries-upsert',
        text: `INSERT INTO device_deliveries AS d (device_id, user_id, id, event_id, event, webhook_source, webhook_id, url, state, attempts,
                                                  next_attempt_at, last_status, last_error, created_at, updated_at, reported_at)
               SELECT $1, $2, t.id, t.event_id, t.event, t.webhook_source, t.webhook_id, t.url, t.state, t.attempts,
                      t.next_attempt_at, t.last_status, t.last_error, t.created_at, t.updated_at, $16
                 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[],
                             $11::bigint[], $12::int[], $13::text[], $14::bigint[], $15::bigint[])
                   AS t(id, event_id, event, webhook_source, webhook_id, url, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at)
               ON CONFLICT (device_id, id) DO UPDATE SET
                 state = excluded.state, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
                 last_status = excluded.last_status, last_error = excluded.last_error, updated_at = excluded.updated_at,
                 reported_at = excluded.reported_at
               WHERE excluded.attempts > d.attempts
                  OR (excluded.attempts = d.attempts AND excluded.updated_at > d.updated_at)
               RETURNING d.id, d.state, d.attempts`,
        values: [
          deviceId,
          userId,
          ds.map((d) => d.id),
          ds.map((d) => d.eventId),
          ds.map((d) => d.event),
          ds.map((d) => d.source),
          ds.map((d) => d.webhookId),
          ds.map((d) => d.url),
          ds.map((d) => d.state),
          ds.map((d) => d.attempts),
          ds.map((d) => d.nextAttemptAt),
          ds.map((d) => d.lastStatus),
          ds.map((d) => d.lastError),
          ds.map((d) => d.createdAt),
          ds.map((d) => d.updatedAt),
          now,
        ],
      });
      // Attempts never change once made: a re-reported one is ignored, and not returned.
      const { rows: inserted } = await client.query<{ delivery_id: string } & DeviceAttemptRow>({
        name: 'device-attempts-insert',
        text: `INSERT INTO device_attempts (device_id, delivery_id, number, started_at, duration_ms, status, error, response_preview, outcome)
               SELECT $1, t.* FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[], $6::int[], $7::text[], $8::text[], $9::text[])
                 AS t(delivery_id, number, started_at, duration_ms, status, error, response_preview, outcome)
               ON CONFLICT DO NOTHING
               RETURNING delivery_id, ${DEVICE_ATTEMPT_COLUMNS}`,
        values: [
          deviceId,
          attempts.map((a) => a.deliveryId),
          attempts.map((a) => a.number),
          attempts.map((a) => a.startedAt),
          attempts.map((a) => a.durationMs),
          attempts.map((a) => a.status),
          attempts.map((a) => a.error),
          attempts.map((a) => a.responsePreview),
          attempts.map((a) => a.outcome),
        ],
      });
      // Finished deliveries older than the device's newest `keep` (their attempts go with them). One
      // still pending stays: it may be retried, and if it were gone its next report would bring its
      // attempts back as new (counted twice).
      const finished = await client.query({
        name: 'device-deliveries-prune-finished',
        text: `DELETE FROM device_deliveries
                WHERE device_id = $1 AND state <> 'pending'
                  AND seq <= (SELECT seq FROM device_deliveries WHERE device_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)`,
        values: [deviceId, keepPerDevice],
      });
      // The hard bound, pending or not (a device with a huge backlog): checked when nothing finished went.
      if (finished.rowCount === 0) {
        await client.query({
          name: 'device-deliveries-prune-any',
          text: `DELETE FROM device_deliveries
                  WHERE device_id = $1
                    AND seq <= (SELECT seq FROM device_deliveries WHERE device_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)`,
          values: [deviceId, keepPerDevice * PENDING_KEPT_FACTOR],
        });
      }
      return {
        changed,
        newAttempts: inserted.map((row) => ({ deliveryId: row.delivery_id, ...toDeviceAttempt(row) })),
      };
    });
  }

  async listUserDeliveries(userId: string, filter: DeliveryListFilter): Promise<DeviceDeliveryRecord[]> {
    const { where, params } = deliveryListWhere(userId, filter);
    const { rows } = await this.pool.query<DeviceDeliveryRow>(
      positional(
        `SELECT ${DEVICE_DELIVERY_COLUMNS} FROM device_deliveries WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT :limit`,
        params,
      ),
    );
    return rows.map(toDeviceDelivery);
  }

  /** The delivery and its attempts in one statement (one snapshot). */
  async getUserDelivery(
    userId: string,
    id: string,
  ): Promise<(DeviceDeliveryRecord & { attemptLog: DeviceAttemptRecord[] }) | undefined> {
    const { rows } = await this.pool.query<DeviceDeliveryRow & { attempt_log: DeviceAttemptRow[] }>({
      name: 'device-deliveries-get',
      text: `SELECT ${DEVICE_DELIVERY_COLUMNS.split(', ')
        .map((c) => `d.${c}`)
        .join(', ')},
                    COALESCE((SELECT json_agg(json_build_object('number', a.number, 'started_at', a.started_at, 'duration_ms', a.duration_ms,
                                                                'status', a.status, 'error', a.error, 'response_preview', a.response_preview,
                                                                'outcome', a.outcome) ORDER BY a.number)
                                FROM device_attempts a WHERE a.device_id = d.device_id AND a.delivery_id = d.id), '[]'::json) AS attempt_log
               FROM device_deliveries d WHERE d.user_id = $1 AND d.id = $2 ORDER BY d.seq DESC LIMIT 1`,
      values: [userId, id],
    });
    const row = rows[0];
    return row && { ...toDeviceDelivery(row), attemptLog: row.attempt_log.map(toDeviceAttempt) };
  }
}
