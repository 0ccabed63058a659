import type { Health, ReportedWebhook, SimCard } from '../../protocol/index.ts';

/** A device linked to a user: what the phone is in the original. */
export interface DeviceRecord {
  id: string;
  userId: string;
  name: string;
  pushToken: string | null;
  createdAt: number;
  updatedAt: number;
  lastSeen: number;
  /** the device's own health document as it last reported it (queue depth among its checks) */
  health: Health | null;
  healthReportedAt: number | null;
  /** when the device first used its token; null: registered, never connected */
  connectedAt: number | null;
  /** the SIM cards the phone last reported (register or `PATCH /mobile/v1/device`); null: never said */
  simCards: SimCard[] | null;
}

export interface DevicesRepository {
  /** tokenHash: SHA-256 (hex) of the device's bearer token */
  insertDevice(device: DeviceRecord, tokenHash: string): Promise<void>;
  getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined>;
  /** undefined when the device does not exist or belongs to someone else */
  getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  /** whose the device is and the push token it registered (undefined: no such device) */
  getPushTarget(deviceId: string): Promise<{ userId: string; pushToken: string | null } | undefined>;
  /** most recently seen first */
  listUserDevices(userId: string): Promise<DeviceRecord[]>;
  /** the ids of the user's devices a message without deviceId may go to: connected ones seen at or after seenSince */
  listSendingDeviceIds(userId: string, seenSince: number): Promise<string[]>;
  /** false when the device does not exist or belongs to someone else */
  deleteUserDevice(userId: string, deviceId: string): Promise<boolean>;
  /**
   * Record that the device was seen. With minIntervalMs > 0 the write is skipped when the
   * stored value is more recent than that, so busy devices do not write on every request.
   */
  touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void>;
  updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void>;
  updateSimCards(deviceId: string, simCards: SimCard[], now: number): Promise<void>;
  /** Replace the device's token hash, if it is still `oldHash` (two rotations at once: one wins); whether it was. */
  replaceTokenHash(deviceId: string, oldHash: string, newHash: string, now: number): Promise<boolean>;
  /**
   * Keep the device's latest health report (and count it as seen). A report older than the stored
   * one is ignored, so reports that overtake each other cannot roll it back.
   */
  saveHealth(deviceId: string, healthJson: string, reportedAt: number): Promise<void>;
  /** Keep the device's Local webhook list (JSON) as it last reported it; an older report never replaces a newer one. */
  saveLocalWebhooks(deviceId: string, webhooksJson: string, reportedAt: number): Promise<void>;
  /** undefined when the user has no such device; `webhooks` is null until the device first reports its list */
  getLocalWebhooks(userId: string, deviceId: string): Promise<LocalWebhooks | undefined>;
  /** the Local webhook lists of all the user's devices, by device id */
  listLocalWebhooks(userId: string): Promise<({ deviceId: string } & LocalWebhooks)[]>;
  /** the devices' delivery queue depths as their latest health reports say, summed and the deepest (0 when none reported) */
  queueDepthTotals(): Promise<{ sum: number; max: number }>;
}

export interface LocalWebhooks {
  webhooks: ReportedWebhook[] | null;
  reportedAt: number | null;
}
