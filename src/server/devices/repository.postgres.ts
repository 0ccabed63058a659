import type { PgPool } from '../store/postgres.ts';
import { type DeviceRecord, type DevicesRepository, type DeviceRow, type LocalWebhooks, toDevice, toLocalWebhooks, DEVICE_COLUMNS } from './repository.ts';

export class PostgresDevicesRepository implements DevicesRepository {
  constructor(private readonly pool: PgPool) {}

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO devices (id, user_id, name, push_token, token_hash, created_at, updated_at, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [device.id, device.userId, device.name, device.pushToken, tokenHash, device.createdAt, device.updatedAt, device.lastSeen],
    );
  }

  async getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.pool.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = $1`, [tokenHash]);
    return rows[0] && toDevice(rows[0]);
  }

  async getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.pool.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND id = $2`, [userId, deviceId]);
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

  async touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE devices SET last_seen = $2
       WHERE id = $1 AND last_seen < $2::bigint - $3::bigint`,
      [deviceId, now, Math.max(0, minIntervalMs)],
    );
  }

  async updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void> {
    await this.pool.query(`UPDATE devices SET push_token = $1, updated_at = $2 WHERE id = $3`, [pushToken, now, deviceId]);
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
    const { rows } = await this.pool.query<{ local_webhooks: string | null; local_webhooks_reported_at: number | null }>(
      `SELECT local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = $1 AND id = $2`,
      [userId, deviceId],
    );
    return rows[0] && toLocalWebhooks(rows[0]);
  }

  async listLocalWebhooks(userId: string): Promise<({ deviceId: string } & LocalWebhooks)[]> {
    const { rows } = await this.pool.query<{ id: string; local_webhooks: string | null; local_webhooks_reported_at: number | null }>(
      `SELECT id, local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = $1 ORDER BY id`,
      [userId],
    );
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
