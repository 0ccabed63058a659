import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import type { SimCard } from '../../protocol/index.ts';
import type { DeviceRecord, DevicesRepository, LocalWebhooks } from './repository.ts';
import { DEVICE_COLUMNS, DEVICES_SQL, deviceInsert, toDevice, toLocalWebhooks } from './repository.shared.ts';
import type { DeviceRow } from './repository.shared.ts';

export class SqliteDevicesRepository implements DevicesRepository {
  private readonly statements;

  constructor(db: SqliteDb) {
    this.statements = {
      ...prepareAll(db, DEVICES_SQL),
      getDeviceByTokenHash: db.prepare<{ tokenHash: string }, DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = :tokenHash`,
      ),
      touchDevice: db.prepare<{ id: string; now: number; minInterval: number }>(
        `UPDATE devices SET last_seen = max(last_seen, :now), connected_at = coalesce(connected_at, :now)
         WHERE id = :id AND (last_seen < :now - :minInterval OR connected_at IS NULL)`,
      ),
      saveHealth: db.prepare<{ id: string; health: string; at: number }>(
        `UPDATE devices SET health = :health, health_reported_at = :at, last_seen = max(last_seen, :at),
                            connected_at = coalesce(connected_at, :at)
          WHERE id = :id AND (health_reported_at IS NULL OR health_reported_at <= :at)`,
      ),
      queueDepthTotals: db.prepare<[], { sum: number; max: number }>(
        `SELECT coalesce(sum(queued), 0) AS sum, coalesce(max(queued), 0) AS max FROM (
           SELECT json_extract(health, '$.checks."webhooks:queue".observedValue') AS queued FROM devices WHERE health IS NOT NULL
         )`,
      ),
    };
  }

  async insertDevice(device: DeviceRecord, tokenHash: string): Promise<void> {
    this.statements.insertDevice.run(deviceInsert(device, tokenHash));
  }

  async getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    const row = this.statements.getDeviceByTokenHash.get({ tokenHash });
    return row && toDevice(row);
  }

  async getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const row = this.statements.getUserDevice.get({ userId, id: deviceId });
    return row && toDevice(row);
  }

  async getPushTarget(deviceId: string): Promise<{ userId: string; pushToken: string | null } | undefined> {
    const row = this.statements.getPushTarget.get({ id: deviceId });
    return row && { userId: row.user_id, pushToken: row.push_token };
  }

  async listUserDevices(userId: string): Promise<DeviceRecord[]> {
    return this.statements.listUserDevices.all({ userId }).map(toDevice);
  }

  async listSendingDeviceIds(userId: string, seenSince: number): Promise<string[]> {
    return this.statements.listSendingDeviceIds.all({ userId, seenSince }).map((row) => row.id);
  }

  async deleteUserDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.statements.deleteUserDevice.run({ userId, id: deviceId }).changes === 1;
  }

  async touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void> {
    this.statements.touchDevice.run({ id: deviceId, now, minInterval: Math.max(0, minIntervalMs) });
  }

  async updateSimCards(deviceId: string, simCards: SimCard[], now: number): Promise<void> {
    this.statements.updateSimCards.run({ id: deviceId, simCards: JSON.stringify(simCards), now });
  }

  async updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void> {
    this.statements.updatePushToken.run({ id: deviceId, pushToken, now });
  }

  async replaceTokenHash(deviceId: string, oldHash: string, newHash: string, now: number): Promise<boolean> {
    return this.statements.replaceTokenHash.run({ id: deviceId, oldHash, newHash, now }).changes === 1;
  }

  async saveHealth(deviceId: string, healthJson: string, reportedAt: number): Promise<void> {
    this.statements.saveHealth.run({ id: deviceId, health: healthJson, at: reportedAt });
  }

  async saveLocalWebhooks(deviceId: string, webhooksJson: string, reportedAt: number): Promise<void> {
    this.statements.saveLocalWebhooks.run({ id: deviceId, webhooks: webhooksJson, at: reportedAt });
  }

  async getLocalWebhooks(userId: string, deviceId: string): Promise<LocalWebhooks | undefined> {
    const row = this.statements.getLocalWebhooks.get({ userId, id: deviceId });
    return row && toLocalWebhooks(row);
  }

  async listLocalWebhooks(userId: string): Promise<({ deviceId: string } & LocalWebhooks)[]> {
    return this.statements.listLocalWebhooks
      .all({ userId })
      .map((row) => ({ deviceId: row.id, ...toLocalWebhooks(row) }));
  }

  async queueDepthTotals(): Promise<{ sum: number; max: number }> {
    return this.statements.queueDepthTotals.get()!;
  }
}
