import {
  checkWebhookUrl,
  keepMaskedCredentials,
  redactUrl,
  showsMask,
  type RegisterWebhook,
} from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { newId } from '../../shared/ids.ts';
import type { DevicesRepository } from '../devices/repository.ts';
import type { PushHub } from '../push/hub.ts';
import type { WebhookRecord, WebhooksRepository } from './repository.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../../shared/errors.ts';
import { DEVICE_ONLINE_WITHIN_MS } from '../devices/service.ts';

/** The wire shape (3rdparty and mobile): deviceId is always present, null = all devices. The mobile API's, with the URL as stored (the device calls it). */
export interface WebhookView {
  id: string;
  url: string;
  event: WebhookRecord['event'];
  deviceId: string | null;
}

export const toWebhookView = (w: WebhookRecord): WebhookView => ({
  id: w.id,
  url: w.url,
  event: w.event,
  deviceId: w.deviceId,
});

/** What the 3rdparty API and the dashboard show: the URL with its credentials masked. */
export const toShownWebhookView = (w: WebhookRecord): WebhookView => ({ ...toWebhookView(w), url: redactUrl(w.url) });

export class WebhooksService {
  constructor(
    private readonly repo: WebhooksRepository,
    private readonly devices: DevicesRepository,
    private readonly hub: PushHub,
    private readonly clock: Clock,
    private readonly options: { insecureHttp: boolean },
  ) {}

  list(userId: string): Promise<WebhookRecord[]> {
    return this.repo.listUserWebhooks(userId);
  }

  /** Create, or replace the user's webhook with the same id; the user's devices are told to re-sync. */
  async register(userId: string, request: RegisterWebhook): Promise<WebhookRecord> {
    const id = request.id || newId(); // absent, null or "": generate one
    // Reading the stored webhook is a round trip: only a URL sent back masked can need it.
    const existing =
      request.id && showsMask(request.url) ? (await this.list(userId)).find((w) => w.id === id) : undefined;
    const url = keepMaskedCredentials(request.url, existing?.url);
    const urlProblem = checkWebhookUrl(url, { allowInsecureHttp: this.options.insecureHttp });
    if (urlProblem) throw new InvalidInputError(urlProblem);
    const deviceId = request.deviceId ?? null;
    if (deviceId !== null && !(await this.devices.getUserDevice(userId, deviceId))) {
      throw new InvalidInputError(
        `deviceId "${deviceId}" is not one of your devices; GET /devices lists yours, or omit deviceId for all of them`,
      );
    }
    const now = this.clock.now();
    const stored = await this.repo.upsertWebhook({
      userId,
      id,
      url,
      event: request.event,
      deviceId,
      createdAt: now,
      updatedAt: now,
    });
    await this.announce(userId);
    return stored;
  }

  /** Idempotent: removing a webhook that is not there is not an error. */
  async remove(userId: string, id: string): Promise<void> {
    if (await this.repo.deleteUserWebhook(userId, id)) await this.announce(userId);
  }

  /**
   * Ask a device to send the webhook a test event (devices deliver; the server only asks): the one
   * it is bound to, else the user's most recently seen device. The delivery and its attempt come
   * back with the device's next activity report. A device not seen lately is refused rather than
   * asked in vain, as for a redelivery.
   */
  async sendTest(userId: string, id: string): Promise<{ id: string; deviceId: string }> {
    const hook = (await this.list(userId)).find((w) => w.id === id);
    if (!hook) throw new NotFoundError(`you have no webhook with id "${id}"; GET /webhooks lists yours`);
    const device = hook.deviceId
      ? await this.devices.getUserDevice(userId, hook.deviceId)
      : (await this.devices.listUserDevices(userId))[0];
    if (!device) throw new ConflictError('you have no device to send it: link one with smsgate device --server …');
    const silentFor = this.clock.now() - device.lastSeen;
    if (silentFor > DEVICE_ONLINE_WITHIN_MS) {
      throw new ConflictError(
        `device "${device.name}" (${device.id}) was last seen ${Math.round(silentFor / 1000)} s ago: it gets test requests only while connected`,
      );
    }
    await this.hub.publish([device.id], { type: 'WebhookTestRequested', data: { id } });
    return { id, deviceId: device.id };
  }

  /** What one device delivers: its own webhooks and the user's device-less ones. */
  forDevice(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    return this.repo.listDeviceWebhooks(userId, deviceId);
  }

  /**
   * Every device of the user re-syncs; a device whose list did not change just fetches the
   * same list again. Telling all of them keeps a webhook that moved between devices right.
   * A store that announces in the write's own transaction has done it already, to the event
   * streams; this node, which wrote, still wakes the phones that wait for a push.
   */
  private async announce(userId: string): Promise<void> {
    const event = { type: 'WebhooksUpdated', data: {} } as const;
    if (!this.repo.announcesChanges) await this.hub.publishToUser(userId, event);
    else this.hub.announcedByStore?.(userId, event);
  }
}
