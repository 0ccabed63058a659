import type { Health, ReportedWebhook, SimCard } from '../../protocol/index.ts';
import { sql } from '../store/sql.ts';
import type { DeviceRecord, LocalWebhooks } from './repository.ts';

/** What `devices.insert` binds: the record, its token's hash and its SIM cards as JSON. */
export type DeviceInsert = DeviceRecord & { tokenHash: string; simCardsJson: string | null };

export const deviceInsert = (device: DeviceRecord, tokenHash: string): DeviceInsert => ({
  ...device,
  tokenHash,
  simCardsJson: device.simCards === null ? null : JSON.stringify(device.simCards),
});

/** A row of the table as both stores return it. */
export interface DeviceRow {
  id: string;
  user_id: string;
  name: string;
  push_token: string | null;
  created_at: number;
  updated_at: number;
  last_seen: number;
  health: string | null;
  health_reported_at: number | null;
  connected_at: number | null;
  sim_cards: string | null;
}

export const DEVICE_COLUMNS =
  'id, user_id, name, push_token, created_at, updated_at, last_seen, health, health_reported_at, connected_at, sim_cards';

export const toDevice = (row: DeviceRow): DeviceRecord => ({
  id: row.id,
  userId: row.user_id,
  name: row.name,
  pushToken: row.push_token,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastSeen: row.last_seen,
  health: row.health === null ? null : (JSON.parse(row.health) as Health),
  healthReportedAt: row.health_reported_at,
  connectedAt: row.connected_at,
  simCards: row.sim_cards === null ? null : (JSON.parse(row.sim_cards) as SimCard[]),
});

interface LocalWebhooksRow {
  local_webhooks: string | null;
  local_webhooks_reported_at: number | null;
}

export const toLocalWebhooks = (row: LocalWebhooksRow): LocalWebhooks => ({
  webhooks: row.local_webhooks === null ? null : (JSON.parse(row.local_webhooks) as ReportedWebhook[]),
  reportedAt: row.local_webhooks_reported_at,
});

/**
 * The devices statements both stores write alike. Each store has its own for the token lookup and
 * the seen notes (PostgreSQL batches them), the health report (max / GREATEST) and the queue depth
 * (JSON functions).
 */
export const DEVICES_SQL = {
  insertDevice: sql<DeviceInsert>(
    'devices.insert',
    `INSERT INTO devices (id, user_id, name, push_token, token_hash, created_at, updated_at, last_seen, sim_cards)
     VALUES (:id, :userId, :name, :pushToken, :tokenHash, :createdAt, :updatedAt, :lastSeen, :simCardsJson)`,
  ),
  getUserDevice: sql<{ userId: string; id: string }, DeviceRow>(
    'devices.by-user-and-id',
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = :userId AND id = :id`,
  ),
  getPushTarget: sql<{ id: string }, { user_id: string; push_token: string | null }>(
    'devices.push-target',
    `SELECT user_id, push_token FROM devices WHERE id = :id`,
  ),
  listUserDevices: sql<{ userId: string }, DeviceRow>(
    'devices.list-user',
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = :userId ORDER BY last_seen DESC, created_at DESC, id`,
  ),
  // only devices that have used their token: one that registered and never connected would keep the message
  listSendingDeviceIds: sql<{ userId: string; seenSince: number }, { id: string }>(
    'devices.sending-of-user',
    `SELECT id FROM devices
      WHERE user_id = :userId AND connected_at IS NOT NULL AND last_seen >= :seenSince ORDER BY id`,
  ),
  deleteUserDevice: sql<{ userId: string; id: string }>(
    'devices.delete',
    `DELETE FROM devices WHERE user_id = :userId AND id = :id`,
  ),
  updateSimCards: sql<{ id: string; simCards: string; now: number }>(
    'devices.update-sim-cards',
    `UPDATE devices SET sim_cards = :simCards, updated_at = :now WHERE id = :id`,
  ),
  updatePushToken: sql<{ id: string; pushToken: string | null; now: number }>(
    'devices.update-push-token',
    `UPDATE devices SET push_token = :pushToken, updated_at = :now WHERE id = :id`,
  ),
  replaceTokenHash: sql<{ id: string; oldHash: string; newHash: string; now: number }>(
    'devices.replace-token-hash',
    `UPDATE devices SET token_hash = :newHash, updated_at = :now WHERE id = :id AND token_hash = :oldHash`,
  ),
  // an older report never replaces a newer one
  saveLocalWebhooks: sql<{ id: string; webhooks: string; at: number }>(
    'devices.save-local-webhooks',
    `UPDATE devices SET local_webhooks = :webhooks, local_webhooks_reported_at = :at
      WHERE id = :id AND (local_webhooks_reported_at IS NULL OR local_webhooks_reported_at <= :at)`,
  ),
  getLocalWebhooks: sql<{ userId: string; id: string }, LocalWebhooksRow>(
    'devices.local-webhooks',
    `SELECT local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = :userId AND id = :id`,
  ),
  listLocalWebhooks: sql<{ userId: string }, LocalWebhooksRow & { id: string }>(
    'devices.local-webhooks-of-user',
    `SELECT id, local_webhooks, local_webhooks_reported_at FROM devices WHERE user_id = :userId ORDER BY id`,
  ),
};
