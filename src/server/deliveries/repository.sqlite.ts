import type { ReportedDelivery } from '../../protocol/index.ts';
import type { SqliteDb } from '../store/sqlite.ts';
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

export class SqliteDeliveriesRepository implements DeliveriesRepository {
  private readonly statements;
  private readonly saveTx;

  constructor(private readonly db: SqliteDb) {
    this.statements = {
      // Inserted, or replaced only by a newer version of the delivery; RETURNING says which happened.
      upsertDelivery: db.prepare<Record<string, unknown>, { id: string; state: string; attempts: number }>(
        `INSERT INTO device_deliveries (device_id, id, user_id, event_id, event, webhook_source, webhook_id, url, state, attempts,
                                        next_attempt_at, last_status, last_error, created_at, updated_at, reported_at)
         VALUES (:deviceId, :id, :userId, :eventId, :event, :source, :webhookId, :url, :state, :attempts,
                 :nextAttemptAt, :lastStatus, :lastError, :createdAt, :updatedAt, :now)
         ON CONFLICT (device_id, id) DO UPDATE SET
           state = excluded.state, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
           last_status = excluded.last_status, last_error = excluded.last_error, updated_at = excluded.updated_at,
           reported_at = excluded.reported_at
         WHERE excluded.attempts > device_deliveries.attempts
            OR (excluded.attempts = device_deliveries.attempts AND excluded.updated_at > device_deliveries.updated_at)
         RETURNING id, state, attempts`,
      ),
      // Attempts never change once made: a re-reported one is ignored, and not returned.
      insertAttempt: db.prepare<Record<string, unknown>, { number: number }>(
        `INSERT INTO device_attempts (device_id, delivery_id, number, started_at, duration_ms, status, error, response_preview, outcome)
         VALUES (:deviceId, :deliveryId, :number, :startedAt, :durationMs, :status, :error, :responsePreview, :outcome)
         ON CONFLICT DO NOTHING
         RETURNING number`,
      ),
      // Finished deliveries older than the device's newest `keep` (their attempts go with them). One
      // still pending stays: it may be retried, and if it were gone its next report would bring its
      // attempts back as new (counted twice).
      pruneFinished: db.prepare<{ deviceId: string; keep: number }>(
        `DELETE FROM device_deliveries
          WHERE device_id = :deviceId AND state <> 'pending'
            AND seq <= (SELECT seq FROM device_deliveries WHERE device_id = :deviceId ORDER BY seq DESC LIMIT 1 OFFSET :keep)`,
      ),
      // The hard bound, pending or not (a device with a huge backlog): checked when nothing finished went.
      pruneAny: db.prepare<{ deviceId: string; limit: number }>(
        `DELETE FROM device_deliveries
          WHERE device_id = :deviceId
            AND seq <= (SELECT seq FROM device_deliveries WHERE device_id = :deviceId ORDER BY seq DESC LIMIT 1 OFFSET :limit)`,
      ),
      getUserDelivery: db.prepare<[string, string], DeviceDeliveryRow>(
        `SELECT ${DEVICE_DELIVERY_COLUMNS} FROM device_deliveries WHERE user_id = ? AND id = ? ORDER BY seq DESC LIMIT 1`,
      ),
      attemptsOf: db.prepare<[string, string], DeviceAttemptRow>(
        `SELECT ${DEVICE_ATTEMPT_COLUMNS} FROM device_attempts WHERE device_id = ? AND delivery_id = ? ORDER BY number`,
      ),
    };
    this.saveTx = db.transaction(
      (
        deviceId: string,
        userId: string,
        deliveries: readonly ReportedDelivery[],
        now: number,
        keep: number,
      ): SavedReport => {
        const saved: SavedReport = { changed: [], newAttempts: [] };
        for (const d of deliveries) {
          const changed = this.statements.upsertDelivery.get({
            deviceId,
            userId,
            now,
            id: d.id,
            eventId: d.eventId,
            event: d.event,
            source: d.source,
            webhookId: d.webhookId,
            url: d.url,
            state: d.state,
            attempts: d.attempts,
            nextAttemptAt: d.nextAttemptAt,
            lastStatus: d.lastStatus,
            lastError: d.lastError,
            createdAt: d.createdAt,
            updatedAt: d.updatedAt,
          });
          if (changed) saved.changed.push(changed);
          for (const a of d.attemptLog) {
            const attempt: DeviceAttemptRecord = {
              number: a.number,
              startedAt: a.startedAt,
              durationMs: a.durationMs,
              status: a.status,
              error: a.error,
              responsePreview: a.responsePreview,
              outcome: a.outcome,
            };
            if (this.statements.insertAttempt.get({ deviceId, deliveryId: d.id, ...attempt }))
              saved.newAttempts.push({ deliveryId: d.id, ...attempt });
          }
        }
        if (this.statements.pruneFinished.run({ deviceId, keep }).changes === 0) {
          this.statements.pruneAny.run({ deviceId, limit: keep * PENDING_KEPT_FACTOR });
        }
        return saved;
      },
    );
  }

  async saveReport(
    deviceId: string,
    userId: string,
    deliveries: readonly ReportedDelivery[],
    now: number,
    keepPerDevice: number,
  ): Promise<SavedReport> {
    return this.saveTx(deviceId, userId, deliveries, now, keepPerDevice);
  }

  async listUserDeliveries(userId: string, filter: DeliveryListFilter): Promise<DeviceDeliveryRecord[]> {
    const { where, params } = deliveryListWhere(userId, filter);
    return this.db
      .prepare<Record<string, unknown>, DeviceDeliveryRow>(
        `SELECT ${DEVICE_DELIVERY_COLUMNS} FROM device_deliveries WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT :limit`,
      )
      .all(params)
      .map(toDeviceDelivery);
  }

  async getUserDelivery(
    userId: string,
    id: string,
  ): Promise<(DeviceDeliveryRecord & { attemptLog: DeviceAttemptRecord[] }) | undefined> {
    const row = this.statements.getUserDelivery.get(userId, id);
    if (!row) return undefined;
    return {
      ...toDeviceDelivery(row),
      attemptLog: this.statements.attemptsOf.all(row.device_id, row.id).map(toDeviceAttempt),
    };
  }
}
