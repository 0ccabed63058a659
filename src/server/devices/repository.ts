/** A device linked to a user: what the phone is in the original. */
export interface DeviceRecord {
  id: string;
  userId: string;
  name: string;
  pushToken: string | null;
  createdAt: number;
  updatedAt: number;
  lastSeen: number;
}

export interface DevicesRepository {
  /** tokenHash: SHA-256 (hex) of the device's bearer token */
  insertDevice(device: DeviceRecord, tokenHash: string): Promise<void>;
  getDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined>;
  /** undefined when the device does not exist or belongs to someone else */
  getUserDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  /** most recently seen first */
  listUserDevices(userId: string): Promise<DeviceRecord[]>;
  /** false when the device does not exist or belongs to someone else */
  deleteUserDevice(userId: string, deviceId: string): Promise<boolean>;
  /**
   * Record that the device was seen. With minIntervalMs > 0 the write is skipped when the
   * stored value is more recent than that, so busy devices do not write on every request.
   */
  touchDevice(deviceId: string, now: number, minIntervalMs: number): Promise<void>;
  updatePushToken(deviceId: string, pushToken: string | null, now: number): Promise<void>;
}
