import type { PgPool } from '../store/postgres.ts';
import { READ_BATCHES_IN_FLIGHT, WriteBatcher } from '../store/write-batcher.ts';
import {
  type DeviceRecord,
  type DevicesRepository,
  type DeviceRow,
  type LocalWebhooks,
  toDevice,
  toLocalWebhooks,
  DEVICE_COLUMNS,
} from './repository.ts';

interface Touch {
  deviceId: string;
  now: number;
  minIntervalMs: number;
}

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
      const { rows } = await this.pool.query<DeviceRow & { token_hash: string }>({
        name: 'devices-by-token-hashes',
        text: `SELECT ${DEVICE_COLUMNS}, token_hash FROM devices WHERE token_hash = ANY($1::text[])`,
        values: [[...new Set(tokenHashes)]],
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
      await this.pool.query({
        name: 'devices-touch-batch',
        text: `UPDATE devices SET last_seen = seen.at
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS seen (id, at, min_interval)
             WHERE devices.id = seen.id AND devices.last_seen < seen.at - seen.min_interval`,
        values: [rows.map((t) => t.deviceId), rows.map((t) => t.now), rows.map((t) => Math.max(0, t.minIntervalMs))],
      });
      return batch.map(() => undefined);
    },
    { failTogether: true },
  );

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO devices (id, user_id, name, push_token, token_hash, created_at, updated_at, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        device.id,
        device.userId,
        device.name,
        device.pushToken,
        tokenHash,
        device.createdAt,
        device.updatedAt,
        device.lastSeen,
      ],
    );
  }

  getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return this.lookups.submit(tokenHash);
  }

  async getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND id = $2`,
      [userId, deviceId],
    );
    return rows[0] && toDevice(rows[0]);
  }

  async listUserDevices(userId: string): Promise<DeviceRecord[]> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY last_seen DESC, created_at DESC, id`,
      [userId],
    );
    return rows.map(toDevice);
  }

  async getLatestUserDevice(userId: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY last_seen DESC, created_at DESC, id LIMIT 1`,
      [userId],
    );
    return rows[0] && toDevice(rows[0]);
  }

  async deleteUserDevice(userId: string, deviceId: string): Promise<boolean> {
    const result = await this.pool.query(`DELETE FROM devices WHERE user_id = $1 AND id = $2`, [userId, deviceId]);
    return result.rowCount === 1;
  }

  touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void> {
    return this.touches.submit({ deviceId, now, minIntervalMs });
  }

  async updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void> {
    await this.pool.query(`UPDATE devices SET push_token = $1, updated_at = $2 WHERE id = $3`, [
      pushToken,
      now,
      deviceId,
    ]);
  }

  async saveHealth(deviceId: string, healthJson: string, reportedAt: number): Promise<void> {
    await this.pool.query(
      `UPDATE devices SET health = $2, health_reported_at = $3, last_seen = GREATEST(last_seen, $3)
        WHERE id = $1 AND (health_reported_at IS NULL OR health_reported_at <= $3)`,
      [deviceId, healthJson, reportedAt],
    );
  }

  async saveLocalWebhooks(deviceId: string, webhooksJson: string, reportedAt: number): Promise<void> {
    await this.pool.query(
      `UPDATE devices SET local_webhooks = $2, local_webhooks_reported_at = $3
        WHERE id = $1 AND (local_webhooks_reported_at IS NULL OR local_webhooks_reported_at <= $3)`,
      [deviceId, webhooksJson, reportedAt],
    );
  }

  async getLocalWebhooks(userId: string, deviceId: string): Promise<LocalWebhooks | undefined> {
    const { rows } = await this.pool.query<{
      local_webhooks: string | null;
      local_webhooks_reported_at: number | null;
    }>(`SELECT local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = $1 AND id = $2`, [
      userId,
      deviceId,
    ]);
    return rows[0] && toLocalWebhooks(rows[0]);
  }

  async listLocalWebhooks(userId: string): Promise<({ deviceId: string } & LocalWebhooks)[]> {
    const { rows } = await this.pool.query<{
      id: string;
      local_webhooks: string | null;
      local_webhooks_reported_at: number | null;
    }>(`SELECT id, local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = $1 ORDER BY id`, [userId]);
    return rows.map((row) => ({ deviceId: row.id, ...toLocalWebhooks(row) }));
  }

  async queueDepthTotals(): Promise<{ sum: number; max: number }> {
    const { rows } = await this.pool.query<{ sum: number; max: number }>(
      `SELECT coalesce(sum(queued), 0)::float8 AS sum, coalesce(max(queued), 0)::float8 AS max FROM (
         SELECT (health::jsonb -> 'checks' -> 'webhooks:queue' ->> 'observedValue')::float8 AS queued FROM devices WHERE health IS NOT NULL
       ) AS reported`,
    );
    return rows[0];
  }
}
