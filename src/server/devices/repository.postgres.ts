import { query, type PgPool } from '../store/postgres.ts';
import { sql } from '../store/sql.ts';
import { READ_BATCHES_IN_FLIGHT, WriteBatcher } from '../store/write-batcher.ts';
import type { SimCard } from '../../protocol/index.ts';
import type { DeviceRecord, DevicesRepository, LocalWebhooks } from './repository.ts';
import { DEVICE_COLUMNS, DEVICES_SQL, deviceInsert, toDevice, toLocalWebhooks } from './repository.shared.ts';
import type { DeviceRow } from './repository.shared.ts';

interface Touch {
  deviceId: string;
  now: number;
  minIntervalMs: number;
}

/** The statements only PostgreSQL has (the others: DEVICES_SQL). */
const POSTGRES_DEVICES_SQL = {
  getDevicesByTokenHashes: sql<{ tokenHashes: string[] }, DeviceRow & { token_hash: string }>(
    'devices.by-token-hashes',
    `SELECT ${DEVICE_COLUMNS}, token_hash FROM devices WHERE token_hash = ANY(:tokenHashes::text[])`,
  ),
  touchDevices: sql<{ ids: string[]; times: number[]; minIntervals: number[] }>(
    'devices.touch-batch',
    `UPDATE devices SET last_seen = GREATEST(devices.last_seen, seen.at),
                        connected_at = COALESCE(devices.connected_at, seen.at)
       FROM unnest(:ids::text[], :times::bigint[], :minIntervals::bigint[]) AS seen (id, at, min_interval)
      WHERE devices.id = seen.id
        AND (devices.last_seen < seen.at - seen.min_interval OR devices.connected_at IS NULL)`,
  ),
  saveHealth: sql<{ id: string; health: string; at: number }>(
    'devices.save-health',
    `UPDATE devices SET health = :health, health_reported_at = :at, last_seen = GREATEST(last_seen, :at),
                        connected_at = COALESCE(connected_at, :at)
      WHERE id = :id AND (health_reported_at IS NULL OR health_reported_at <= :at)`,
  ),
  queueDepthTotals: sql<object, { sum: number; max: number }>(
    'devices.queue-depth-totals',
    `SELECT coalesce(sum(queued), 0)::float8 AS sum, coalesce(max(queued), 0)::float8 AS max FROM (
       SELECT (health::jsonb -> 'checks' -> 'webhooks:queue' ->> 'observedValue')::float8 AS queued FROM devices WHERE health IS NOT NULL
     ) AS reported`,
  ),
};

export class PostgresDevicesRepository implements DevicesRepository {
  constructor(private readonly pool: PgPool) {}

  /**
   * Every mobile request starts with its token's device. When a push reaches thousands of
   * devices they all come back at once to pull; one statement per batch of them, instead of a
   * round trip each, keeps that herd from queueing on the pool. A batch is sent only after each of
   * its lookups was asked for, so none is answered from before its own request.
   */
  private readonly lookups = new WriteBatcher<string, DeviceRecord | undefined>(
    async (tokenHashes) => {
      const { rows } = await query(this.pool, POSTGRES_DEVICES_SQL.getDevicesByTokenHashes, {
        tokenHashes: [...new Set(tokenHashes)],
      });
      const byHash = new Map(rows.map((row) => [row.token_hash, row]));
      return tokenHashes.map((hash) => {
        const row = byHash.get(hash);
        return row && toDevice(row);
      });
    },
    { maxInFlight: READ_BATCHES_IN_FLIGHT, failTogether: true },
  );

  /**
   * "Seen" notes that arrive together (the same herd, or streams' keep-alives that fell due
   * together) share one statement and one commit. Two notes for one device in a batch become
   * one: the later time, with the shorter interval, so a ping (interval 0) still writes.
   */
  private readonly touches = new WriteBatcher<Touch, void>(
    async (batch) => {
      const merged = new Map<string, Touch>();
      for (const touch of batch) {
        const earlier = merged.get(touch.deviceId);
        merged.set(
          touch.deviceId,
          earlier
            ? {
                deviceId: touch.deviceId,
                now: Math.max(earlier.now, touch.now),
                minIntervalMs: Math.min(earlier.minIntervalMs, touch.minIntervalMs),
              }
            : touch,
        );
      }
      // in id order, so that batches on other nodes lock shared rows in the same order (no deadlock)
      const rows = [...merged.values()].sort((a, b) =>
        a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0,
      );
      await query(this.pool, POSTGRES_DEVICES_SQL.touchDevices, {
        ids: rows.map((t) => t.deviceId),
        times: rows.map((t) => t.now),
        minIntervals: rows.map((t) => Math.max(0, t.minIntervalMs)),
      });
      return batch.map(() => undefined);
    },
    { failTogether: true },
  );

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    await query(this.pool, DEVICES_SQL.insertDevice, deviceInsert(device, tokenHash));
  }

  getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return this.lookups.submit(tokenHash);
  }

  async getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const { rows } = await query(this.pool, DEVICES_SQL.getUserDevice, { userId, id: deviceId });
    return rows[0] && toDevice(rows[0]);
  }

  async getPushTarget(deviceId: string): Promise<{ userId: string; pushToken: string | null } | undefined> {
    const { rows } = await query(this.pool, DEVICES_SQL.getPushTarget, { id: deviceId });
    return rows[0] && { userId: rows[0].user_id, pushToken: rows[0].push_token };
  }

  async listUserDevices(userId: string): Promise<DeviceRecord[]> {
    const { rows } = await query(this.pool, DEVICES_SQL.listUserDevices, { userId });
    return rows.map(toDevice);
  }

  async listSendingDeviceIds(userId: string, seenSince: number): Promise<string[]> {
    const { rows } = await query(this.pool, DEVICES_SQL.listSendingDeviceIds, { userId, seenSince });
    return rows.map((row) => row.id);
  }

  async deleteUserDevice(userId: string, deviceId: string): Promise<boolean> {
    const result = await query(this.pool, DEVICES_SQL.deleteUserDevice, { userId, id: deviceId });
    return result.rowCount === 1;
  }

  touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void> {
    return this.touches.submit({ deviceId, now, minIntervalMs });
  }

  async updateSimCards(deviceId: string, simCards: SimCard[], now: number): Promise<void> {
    await query(this.pool, DEVICES_SQL.updateSimCards, { id: deviceId, simCards: JSON.stringify(simCards), now });
  }

  async updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void> {
    await query(this.pool, DEVICES_SQL.updatePushToken, { id: deviceId, pushToken, now });
  }

  async replaceTokenHash(deviceId: string, oldHash: string, newHash: string, now: number): Promise<boolean> {
    const result = await query(this.pool, DEVICES_SQL.replaceTokenHash, { id: deviceId, oldHash, newHash, now });
    return result.rowCount === 1;
  }

  async saveHealth(deviceId: string, healthJson: string, reportedAt: number): Promise<void> {
    await query(this.pool, POSTGRES_DEVICES_SQL.saveHealth, { id: deviceId, health: healthJson, at: reportedAt });
  }

  async saveLocalWebhooks(deviceId: string, webhooksJson: string, reportedAt: number): Promise<void> {
    await query(this.pool, DEVICES_SQL.saveLocalWebhooks, { id: deviceId, webhooks: webhooksJson, at: reportedAt });
  }

  async getLocalWebhooks(userId: string, deviceId: string): Promise<LocalWebhooks | undefined> {
    const { rows } = await query(this.pool, DEVICES_SQL.getLocalWebhooks, { userId, id: deviceId });
    return rows[0] && toLocalWebhooks(rows[0]);
  }

  async listLocalWebhooks(userId: string): Promise<({ deviceId: string } & LocalWebhooks)[]> {
    const { rows } = await query(this.pool, DEVICES_SQL.listLocalWebhooks, { userId });
    return rows.map((row) => ({ deviceId: row.id, ...toLocalWebhooks(row) }));
  }

  async queueDepthTotals(): Promise<{ sum: number; max: number }> {
    const { rows } = await query(this.pool, POSTGRES_DEVICES_SQL.queueDepthTotals, {});
    return rows[0];
  }
}
