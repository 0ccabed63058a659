import { checkWebhookUrl, type RegisterWebhook } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { newId } from '../../shared/ids.ts';
import type { DevicesRepository } from '../devices/repository.ts';
import type { PushHub } from '../push/hub.ts';
import type { WebhookRecord, WebhooksRepository } from './repository.ts';
import { InvalidInputError } from '../../shared/errors.ts';

/** The wire shape (3rdparty and mobile): deviceId is always present, null = all devices. */
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
    const urlProblem = checkWebhookUrl(request.url, { allowInsecureHttp: this.options.insecureHttp });
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
      id: request.id || newId(), // absent, null or "": generate one
      url: request.url,
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

  /** What one device delivers: its own webhooks and the user's device-less ones. */
  forDevice(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    return this.repo.listDeviceWebhooks(userId, deviceId);
  }

  /**
   * Every device of the user re-syncs; a device whose list did not change just fetches the
   * same list again. Telling all of them keeps a webhook that moved between devices right.
   * A store that announces in the write's own transaction has done it already.
   */
  private async announce(userId: string): Promise<void> {
    if (!this.repo.announcesChanges) await this.hub.publishToUser(userId, { type: 'WebhooksUpdated', data: {} });
  }
}
