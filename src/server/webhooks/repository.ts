import type { EventName } from '../../protocol/index.ts';

/** A server-side (Cloud) webhook registration; deviceId null means all of the user's devices. */
export interface WebhookRecord {
  userId: string;
  id: string;
  url: string;
  event: EventName;
  deviceId: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface WebhooksRepository {
  /**
   * true when every write also tells the user's devices (`WebhooksUpdated`) in its own transaction
   * (PostgreSQL: the statement NOTIFYs, so the news commits with the change and reaches every node);
   * false when the caller publishes it after the write (SQLite: one process, an in-process hub).
   */
  readonly announcesChanges: boolean;
  /**
   * Insert, or replace the user's webhook with the same id (keeping its createdAt).
   * The (user, id) key decides in the database, so concurrent upserts leave one row.
   */
  upsertWebhook(webhook: WebhookRecord): Promise<WebhookRecord>;
  /** oldest first */
  listUserWebhooks(userId: string): Promise<WebhookRecord[]>;
  /** what one device delivers: its own webhooks plus the user's device-less ones */
  listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]>;
  /** false when the user has no webhook with that id */
  deleteUserWebhook(userId: string, id: string): Promise<boolean>;
  /** removes the webhooks bound to one device (when the device goes); returns how many */
  deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number>;
}
