import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ReportedDelivery } from '../../protocol/index.ts';
import { StatementCache } from '../../shared/sqlite.ts';
import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import type { StatsWindow } from '../../shared/stats.ts';
import { PENDING_KEPT_FACTOR } from './repository.ts';
import type { DeliveriesRepository, DeliveryDetail, DeliveryListFilter, DeviceAttemptRecord } from './repository.ts';
import type { DeviceDeliveryRecord, ReportingDevice, SavedReport, StatsRows } from './repository.ts';
import {
  DELIVERIES_SQL,
  DEVICE_ATTEMPT_COLUMNS,
  DEVICE_DELIVERY_COLUMNS,
  deliveryList,
  STATS_SQL,
  statsParams,
  toDeviceAttempt,
  toDeviceDelivery,
  UPSERT_NEWER_DELIVERY,
  type DeliveryListParams,
  type DeviceAttemptRow,
  type DeviceDeliveryRow,
} from './repository.shared.ts';

/**
 * Deliveries saved per transaction. A report holds up to 200 with their attempts; saved in one go it
 * held the event loop 10-20 ms on a busy server, and every request waited (a device's pull, the
 * 3rdparty API). Between these transactions the loop serves them.
 */
const SAVE_CHUNK = 25;

export class SqliteDeliveriesRepository implements DeliveriesRepository {
  private readonly statements;
  private readonly stats;
  private readonly lists;
  private readonly saveChunk;

  constructor(db: SqliteDb) {
    this.stats = prepareAll(db, STATS_SQL);
    this.statements = {
      ...prepareAll(db, DELIVERIES_SQL),
      // Inserted, or replaced only by a newer version of the delivery; RETURNING says which happened.
      upsertDelivery: db.prepare<Record<string, unknown>, { id: string; state: string; attempts: number }>(
        `INSERT INTO device_deliveries AS d (device_id, id, user_id, event_id, event, webhook_source, webhook_id, url, state,
                                             attempts, next_attempt_at, last_status, last_error, created_at, updated_at, reported_at)
         VALUES (:deviceId, :id, :userId, :eventId, :event, :source, :webhookId, :url, :state, :attempts,
                 :nextAttemptAt, :lastStatus, :lastError, :createdAt, :updatedAt, :now)
         ${UPSERT_NEWER_DELIVERY}
         RETURNING id, state, attempts`,
      ),
      // Attempts never change once made: a re-reported one is ignored, and not returned.
      insertAttempt: db.prepare<Record<string, unknown>, { number: number }>(
        `INSERT INTO device_attempts (device_id, delivery_id, number, started_at, duration_ms, status, error, response_preview, outcome)
         VALUES (:deviceId, :deliveryId, :number, :startedAt, :durationMs, :status, :error, :responsePreview, :outcome)
         ON CONFLICT DO NOTHING
         RETURNING number`,
      ),
      getUserDelivery: db.prepare<{ userId: string; id: string }, DeviceDeliveryRow>(
        `SELECT ${DEVICE_DELIVERY_COLUMNS} FROM device_deliveries WHERE user_id = :userId AND id = :id ORDER BY seq DESC LIMIT 1`,
      ),
      attemptsOf: db.prepare<{ deviceId: string; deliveryId: string }, DeviceAttemptRow>(
        `SELECT ${DEVICE_ATTEMPT_COLUMNS} FROM device_attempts WHERE device_id = :deviceId AND delivery_id = :deliveryId ORDER BY number`,
      ),
    };
    this.lists = new StatementCache(db);
    this.saveChunk = db.transaction(
      (
        { id: deviceId, userId }: ReportingDevice,
        deliveries: readonly ReportedDelivery[],
        now: number,
        saved: SavedReport,
      ) => {
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
      },
    );
  }

  async saveReport(device: ReportingDevice, deliveries: readonly ReportedDelivery[], now: number, keep: number) {
    const saved: SavedReport = { changed: [], newAttempts: [] };
    for (let start = 0; start < deliveries.length; start += SAVE_CHUNK) {
      if (start > 0) await nextTurn();
      this.saveChunk(device, deliveries.slice(start, start + SAVE_CHUNK), now, saved);
    }
    // each prune is one statement, so its own transaction
    if (this.statements.pruneFinished.run({ deviceId: device.id, keep }).changes === 0) {
      this.statements.pruneAny.run({ deviceId: device.id, keep: keep * PENDING_KEPT_FACTOR });
    }
    return saved;
  }

  async listUserDeliveries(userId: string, filter: DeliveryListFilter): Promise<DeviceDeliveryRecord[]> {
    return this.lists
      .get<DeliveryListParams, DeviceDeliveryRow>(deliveryList(filter).text)
      .all({ userId, ...filter })
      .map(toDeviceDelivery);
  }

  async activityStats(userId: string, window: StatsWindow): Promise<StatsRows> {
    const params = statsParams(userId, window);
    return {
      attempts: this.stats.attempts.all(params.attempts),
      messages: this.stats.messages.all(params.attempts),
      failing: this.stats.failing.all(params.failing),
      queueMoves: this.stats.queueMoves.all(params.attempts),
      queueNow: Number(this.stats.queueNow.get({ userId })!.depth),
    };
  }

  async purgeExpired(userId: string, cutoff: number, limit: number): Promise<number> {
    return this.statements.purgeExpired.run({ userId, cutoff, limit }).changes;
  }

  async getUserDelivery(userId: string, id: string): Promise<DeliveryDetail | undefined> {
    const row = this.statements.getUserDelivery.get({ userId, id });
    if (!row) return undefined;
    return {
      ...toDeviceDelivery(row),
      attemptLog: this.statements.attemptsOf.all({ deviceId: row.device_id, deliveryId: row.id }).map(toDeviceAttempt),
    };
  }
}
