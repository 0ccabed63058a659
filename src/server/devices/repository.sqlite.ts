import type { SqliteDb } from '../store/sqlite.ts';
import {
  type DeviceRecord,
  type DevicesRepository,
  type DeviceRow,
  type LocalWebhooks,
  toDevice,
  toLocalWebhooks,
  DEVICE_COLUMNS,
} from './repository.ts';

export class SqliteDevicesRepository implements DevicesRepository {
  private readonly statements;

  constructor(db: SqliteDb) {
    this.statements = {
      insertDevice: db.prepare<[string, string, string, string | null, string, number, number, number]>(
        `INSERT INTO devices (id, user_id, name, push_token, token_hash, created_at, updated_at, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getDeviceByTokenHash: db.prepare<[string], DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = ?`,
      ),
      getUserDevice: db.prepare<[string, string], DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND id = ?`,
      ),
      listUserDevices: db.prepare<[string], DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? ORDER BY last_seen DESC, created_at DESC, id`,
      ),
      getLatestUserDevice: db.prepare<[string], DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? ORDER BY last_seen DESC, created_at DESC, id LIMIT 1`,
      ),
      deleteUserDevice: db.prepare<[string, string]>(`DELETE FROM devices WHERE user_id = ? AND id = ?`),
      touchDevice: db.prepare<{ id: string; now: number; minInterval: number }>(
        `UPDATE devices SET last_seen = :now
         WHERE id = :id AND last_seen < :now - :minInterval`,
      ),
      updatePushToken: db.prepare<[string | null, number, string]>(
        `UPDATE devices SET push_token = ?, updated_at = ? WHERE id = ?`,
      ),
      saveHealth: db.prepare<{ id: string; health: string; at: number }>(
        `UPDATE devices SET health = :health, health_reported_at = :at, last_seen = max(last_seen, :at)
          WHERE id = :id AND (health_reported_at IS NULL OR health_reported_at <= :at)`,
      ),
      saveLocalWebhooks: db.prepare<{ id: string; webhooks: string; at: number }>(
        `UPDATE devices SET local_webhooks = :webhooks, local_webhooks_reported_at = :at
          WHERE id = :id AND (local_webhooks_reported_at IS NULL OR local_webhooks_reported_at <= :at)`,
      ),
      getLocalWebhooks: db.prepare<
        [string, string],
        { local_webhooks: string | null; local_webhooks_reported_at: number | null }
      >(`SELECT local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = ? AND id = ?`),
      listLocalWebhooks: db.prepare<
        [string],
        { id: string; local_webhooks: string | null; local_webhooks_reported_at: number | null }
      >(`SELECT id, local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = ? ORDER BY id`),
      queueDepthTotals: db.prepare<[], { sum: number; max: number }>(
        `SELECT coalesce(sum(queued), 0) AS sum, coalesce(max(queued), 0) AS max FROM (
           SELECT json_extract(health, '$.checks."webhooks:queue".observedValue') AS queued FROM devices WHERE health IS NOT NULL
         )`,
      ),
    };
  }

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    this.statements.insertDevice.run(
      device.id,
      device.userId,
      device.name,
      device.pushToken,
      tokenHash,
      device.createdAt,
      device.updatedAt,
      device.lastSeen,
    );
  }

  async getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    const row = this.statements.getDeviceByTokenHash.get(tokenHash);
    return row && toDevice(row);
  }

  async getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const row = this.statements.getUserDevice.get(userId, deviceId);
    return row && toDevice(row);
  }

  async listUserDevices(userId: string): Promise<DeviceRecord[]> {
    return this.statements.listUserDevices.all(userId).map(toDevice);
  }

  async getLatestUserDevice(userId: string): Promise<DeviceRecord | undefined> {
    const row = this.statements.getLatestUserDevice.get(userId);
    return row && toDevice(row);
  }

  async deleteUserDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.statements.deleteUserDevice.run(userId, deviceId).changes === 1;
  }

  async touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void> {
    this.statements.touchDevice.run({ id: deviceId, now, minInterval: Math.max(0, minIntervalMs) });
  }

  async updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void> {
    this.statements.updatePushToken.run(pushToken, now, deviceId);
  }

  async saveHealth(deviceId: string, healthJson: string, reportedAt: number): Promise<void> {
    this.statements.saveHealth.run({ id: deviceId, health: healthJson, at: reportedAt });
  }

  async saveLocalWebhooks(deviceId: string, webhooksJson: string, reportedAt: number): Promise<void> {
    this.statements.saveLocalWebhooks.run({ id: deviceId, webhooks: webhooksJson, at: reportedAt });
  }

  async getLocalWebhooks(userId: string, deviceId: string): Promise<LocalWebhooks | undefined> {
    const row = this.statements.getLocalWebhooks.get(userId, deviceId);
    return row && toLocalWebhooks(row);
  }

  async listLocalWebhooks(userId: string): Promise<({ deviceId: string } & LocalWebhooks)[]> {
    return this.statements.listLocalWebhooks.all(userId).map((row) => ({ deviceId: row.id, ...toLocalWebhooks(row) }));
  }

  async queueDepthTotals(): Promise<{ sum: number; max: number }> {
    return this.statements.queueDepthTotals.get()!;
  }
}
