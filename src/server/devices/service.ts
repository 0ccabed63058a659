import { createHash, randomInt } from 'node:crypto';
import { knownHealthFields, type Health, type ReportedSimCard, type SimCard } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { newId, randomSecret } from '../../shared/ids.ts';
import type { DeviceRecord, DevicesRepository } from './repository.ts';
import type { WebhooksRepository } from '../webhooks/repository.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../../shared/errors.ts';

/** how often a device's lastSeen is written when it merely makes requests (pings always write) */
const LAST_SEEN_RESOLUTION_MS = 10_000;

/**
 * A device seen within this long counts as online (the dashboard says so too): a connected device's
 * event stream refreshes lastSeen at every keep-alive, 15 s apart.
 */
export const DEVICE_ONLINE_WITHIN_MS = 60_000;

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** The wire shape of a device (3rdparty `GET /devices`, mobile `GET /device`). */
export interface DeviceView {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  lastSeen: string;
  /** what the device last reported about itself; null until its first report */
  health: (Health & { reportedAt: string }) | null;
  /** the SIM cards the phone reported; absent when it never said (as in the original) */
  simCards?: SimCard[];
}

export const toDeviceView = (d: DeviceRecord): DeviceView => ({
  id: d.id,
  name: d.name,
  createdAt: new Date(d.createdAt).toISOString(),
  updatedAt: new Date(d.updatedAt).toISOString(),
  lastSeen: new Date(d.lastSeen).toISOString(),
  health:
    d.health && d.healthReportedAt !== null
      ? { ...d.health, reportedAt: new Date(d.healthReportedAt).toISOString() }
      : null,
  ...(d.simCards ? { simCards: d.simCards } : {}),
});

/** SIM cards as the server keeps them: the known values only, in the events' shape. */
export const toSimCards = (reported: readonly ReportedSimCard[]): SimCard[] =>
  reported.map(({ slotIndex, simNumber, phoneNumber, carrierName, iccid }) => ({
    slotIndex,
    simNumber,
    ...(phoneNumber != null ? { phoneNumber } : {}),
    ...(carrierName != null ? { carrierName } : {}),
    ...(iccid != null ? { iccid } : {}),
  }));

export class DevicesService {
  constructor(
    private readonly repo: DevicesRepository,
    private readonly webhooks: WebhooksRepository,
    private readonly clock: Clock,
    /** after a device was deleted or its token replaced: end its push stream, on whichever node holds it */
    private readonly removed: (device: { id: string; userId: string }) => Promise<void> = async () => {},
  ) {}

  /** A new device of `userId` and its bearer token (≥128 random bits; only its hash is stored). */
  async register(
    userId: string,
    options: { name?: string | null; pushToken?: string | null; simCards?: ReportedSimCard[] | null },
  ): Promise<{ device: DeviceRecord; token: string }> {
    const now = this.clock.now();
    const token = randomSecret(24);
    const device: DeviceRecord = {
      id: newId(),
      userId,
      name: options.name?.trim() || 'smsgate device',
      pushToken: options.pushToken ?? null,
      createdAt: now,
      updatedAt: now,
      lastSeen: now,
      health: null,
      healthReportedAt: null,
      connectedAt: null,
      simCards: options.simCards ? toSimCards(options.simCards) : null,
    };
    await this.repo.insertDevice(device, hashToken(token));
    return { device, token };
  }

  /** The device a bearer token belongs to (and note that it was seen), or undefined. */
  async authenticate(token: string): Promise<DeviceRecord | undefined> {
    const device = await this.repo.getDeviceByTokenHash(hashToken(token));
    const now = this.clock.now();
    // The row just read says whether the write would do anything: skip the round trip if not.
    // A device's first use of its token is written before the answer: it marks the device as
    // connected. Later notes only move lastSeen, and the request does not wait for them: after a
    // push, 10,000 devices' pulls would each wait for their turn in the notes' batches.
    if (device?.connectedAt === null) await this.repo.touchDevice(device.id, now, LAST_SEEN_RESOLUTION_MS);
    else if (device && now - device.lastSeen >= LAST_SEEN_RESOLUTION_MS)
      // a note that fails only leaves lastSeen older: the device's next request writes it again
      void this.repo.touchDevice(device.id, now, LAST_SEEN_RESOLUTION_MS).catch(() => {});
    return device;
  }

  /**
   * A new token for the device, which `currentToken` (the one it authenticated with) stops being
   * at once; its open push stream ends, and it reconnects with the new one. Device tokens do not
   * expire: this is how a device replaces one that may have leaked.
   */
  async rotateToken(device: { id: string; userId: string }, currentToken: string): Promise<string> {
    const token = randomSecret(24);
    if (!(await this.repo.replaceTokenHash(device.id, hashToken(currentToken), hashToken(token), this.clock.now()))) {
      throw new ConflictError('the token was replaced meanwhile (a rotation at the same time); use the new one');
    }
    await this.removed(device);
    return token;
  }

  /** Note that the device is around (an open event stream), at most every LAST_SEEN_RESOLUTION_MS. */
  async seen(deviceId: string): Promise<void> {
    await this.repo.touchDevice(deviceId, this.clock.now(), LAST_SEEN_RESOLUTION_MS);
  }

  async ping(deviceId: string): Promise<void> {
    await this.repo.touchDevice(deviceId, this.clock.now(), 0);
  }

  /**
   * Keep the health document the device reported about itself (its queue depth is among the
   * checks): its known fields, bounded by the schema; keys outside it are not kept.
   */
  async reportHealth(deviceId: string, health: Health): Promise<void> {
    await this.repo.saveHealth(deviceId, JSON.stringify(knownHealthFields(health)), this.clock.now());
  }

  async updatePushToken(deviceId: string, pushToken: string | null): Promise<void> {
    await this.repo.updatePushToken(deviceId, pushToken, this.clock.now());
  }

  async updateSimCards(deviceId: string, simCards: readonly ReportedSimCard[]): Promise<void> {
    await this.repo.updateSimCards(deviceId, toSimCards(simCards), this.clock.now());
  }

  list(userId: string): Promise<DeviceRecord[]> {
    return this.repo.listUserDevices(userId);
  }

  /** The user's device, or a 404 that does not say whether it exists for someone else. */
  async get(userId: string, deviceId: string): Promise<DeviceRecord> {
    const device = await this.repo.getUserDevice(userId, deviceId);
    if (!device) throw new NotFoundError(`you have no device with id "${deviceId}"; GET /devices lists yours`);
    return device;
  }

  /** Remove a device: its token stops working and the webhooks bound to it go with it. */
  async remove(userId: string, deviceId: string): Promise<void> {
    if (!(await this.repo.deleteUserDevice(userId, deviceId))) {
      throw new NotFoundError(`you have no device with id "${deviceId}"; GET /devices lists yours`);
    }
    await this.webhooks.deleteDeviceWebhooks(userId, deviceId);
    await this.removed({ id: deviceId, userId });
  }

  /**
   * The id of the device a message goes to: the one asked for (it must be the user's, and seen within
   * `activeWithinHours` when given); otherwise one picked at random, as the original does, among
   * the user's devices that have connected (used their token at least once), narrowed to those
   * seen within `activeWithinHours`. Random spreads the messages over the devices. Only when none
   * has ever connected does a registered one take it (it waits for that phone's first pull).
   */
  async pickForMessage(
    userId: string,
    deviceId: string | null | undefined,
    activeWithinHours?: number,
  ): Promise<string> {
    const seenSince = activeWithinHours ? this.clock.now() - activeWithinHours * 3_600_000 : 0;
    const within = `within the last ${activeWithinHours} hour${activeWithinHours === 1 ? '' : 's'} (deviceActiveWithin)`;
    if (deviceId != null) {
      const device = await this.repo.getUserDevice(userId, deviceId);
      if (!device)
        throw new InvalidInputError(`deviceId "${deviceId}" is not one of your devices; GET /devices lists yours`);
      if (device.lastSeen < seenSince) {
        throw new InvalidInputError(
          `device "${deviceId}" was last seen ${new Date(device.lastSeen).toISOString()}, not ${within}`,
        );
      }
      return device.id;
    }
    const candidates = await this.repo.listSendingDeviceIds(userId, seenSince);
    if (candidates.length > 0) return candidates[randomInt(candidates.length)];
    // Nothing qualifies: say why, from the whole list (only on this path).
    const all = await this.repo.listUserDevices(userId);
    if (all.length === 0) {
      throw new InvalidInputError(
        'you have no device to send from yet; link one first (e.g. `smsgate device --server <url> --server-login <login> --server-password <password>`, or POST /mobile/v1/device)',
      );
    }
    if (all.every((d) => d.connectedAt === null)) {
      // None has connected yet: the message waits, Pending, for a registered phone, as the original's
      // server does (its own test suite sends right after a registration and expects 202).
      const registered = all.filter((d) => d.lastSeen >= seenSince);
      if (registered.length > 0) return registered[randomInt(registered.length)].id;
      throw new InvalidInputError(
        `none of your devices has connected yet (registered: ${all.length}); start the app or \`smsgate device\` so it connects, or name one with deviceId`,
      );
    }
    throw new InvalidInputError(
      `none of your devices was seen ${within}; the most recent was seen ${new Date(Math.max(...all.map((d) => d.lastSeen))).toISOString()}`,
    );
  }
}
