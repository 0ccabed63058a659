import {
  deliveryView,
  redactUrl,
  type ActivityReport,
  type DeliveryView,
  type ReportedDelivery,
  type ReportedWebhook,
  type ActivityStats,
  type StatsRange,
} from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { ActivityNotice, PushHub } from '../push/hub.ts';
import type { DeviceRecord, DevicesRepository } from '../devices/repository.ts';
import { DEVICE_ONLINE_WITHIN_MS } from '../devices/service.ts';
import type {
  DeliveriesRepository,
  DeliveryListFilter,
  DeviceAttemptRecord,
  DeviceDeliveryRecord,
  SavedReport,
} from './repository.ts';
import { NotFoundError, ConflictError } from '../../shared/errors.ts';
import { assembleStats, statsWindowFor } from '../../shared/stats.ts';

/**
 * How many deliveries the server keeps per device (with their attempts): the newest, by when the
 * server first heard of them. Older ones are dropped as new ones arrive; the device keeps its own log.
 */
export const DELIVERIES_KEPT_PER_DEVICE = 10_000;

/** A delivery as the 3rdparty API shows it: the device's Local API shape, plus whose it is and how fresh. */
export type ServerDeliveryView = DeliveryView & { deviceId: string; reportedAt: string };
export type ServerAttemptView = Omit<DeviceAttemptRecord, 'startedAt'> & { startedAt: string };

const iso = (ms: number) => new Date(ms).toISOString();

export const toDeliveryView = (d: DeviceDeliveryRecord): ServerDeliveryView => ({
  ...deliveryView(d, iso),
  deviceId: d.deviceId,
  reportedAt: iso(d.reportedAt),
});

const toAttemptView = (a: DeviceAttemptRecord): ServerAttemptView => ({ ...a, startedAt: iso(a.startedAt) });

/**
 * The deliveries devices report (`POST /mobile/v1/device/activity`): stored as a copy, passed on
 * to the user's live dashboards, counted in the server's metrics, and redelivered on request by
 * asking the device, which alone delivers.
 */
export class DeliveriesService {
  constructor(
    private readonly deps: {
      repo: DeliveriesRepository;
      devices: DevicesRepository;
      hub: PushHub;
      clock: Clock;
      /** attempts stored for the first time (each counted once, however often it is reported) */
      onNewAttempts?: (attempts: SavedReport['newAttempts']) => void;
    },
  ) {}

  /** Store what the device reported, then tell the user's dashboards what is new. */
  async report(device: DeviceRecord, received: ActivityReport): Promise<void> {
    const { repo, devices, hub, clock } = this.deps;
    // A receiver's answer may hold NUL characters, which PostgreSQL cannot store in text: the
    // report of one hostile receiver must not cost the whole batch of other deliveries.
    const report = withoutNulCharacters(received);
    const now = clock.now();
    // The server's copy never holds a URL's credentials, whatever version the device runs.
    if (report.webhooks) {
      const shown = report.webhooks.map((hook) => ({ ...hook, url: redactUrl(hook.url) }));
      await devices.saveLocalWebhooks(device.id, JSON.stringify(shown), now);
    }
    // Object.assign, not `{ ...d, url }`: on Node 20 an object that starts with a spread outlives
    // young-generation collections, and a copy is made of every delivery a report carries.
    const deliveries = newestOfEach(report.deliveries ?? []).map((d) =>
      Object.assign({}, d, { url: redactUrl(d.url) }),
    );
    const saved: SavedReport =
      deliveries.length > 0
        ? await repo.saveReport(device, deliveries, now, DELIVERIES_KEPT_PER_DEVICE)
        : { changed: [], newAttempts: [] };
    this.deps.onNewAttempts?.(saved.newAttempts);

    const deviceId = device.id;
    const webhookOf = new Map(deliveries.map((d) => [d.id, d.webhookId]));
    const notices: ActivityNotice[] = [
      ...(report.events ?? []).map((e): ActivityNotice => ({
        type: 'event',
        data: {
          deviceId,
          eventId: e.id,
          event: e.event,
          at: iso(e.createdAt),
          deliveries: e.deliveries,
          payload: e.summary,
        },
      })),
      ...[...saved.newAttempts]
        .sort((a, b) => a.startedAt - b.startedAt)
        .map((a): ActivityNotice => ({
          type: 'attempt',
          data: {
            deviceId,
            deliveryId: a.deliveryId,
            webhookId: webhookOf.get(a.deliveryId),
            attempt: a.number,
            outcome: a.outcome,
            status: a.status,
            error: a.error,
            durationMs: a.durationMs,
          },
        })),
      ...saved.changed.map((c): ActivityNotice => ({
        type: 'delivery',
        data: { deviceId, id: c.id, state: c.state, attempts: c.attempts },
      })),
    ];
    if (notices.length > 0) await hub.publishActivity(device.userId, notices);
  }

  /** One page, newest first; `nextCursor` (null on the last page) goes back as `before`. */
  async list(
    userId: string,
    filter: DeliveryListFilter,
  ): Promise<{ items: ServerDeliveryView[]; nextCursor: number | null }> {
    const rows = await this.deps.repo.listUserDeliveries(userId, filter);
    return {
      items: rows.map(toDeliveryView),
      nextCursor: rows.length === filter.limit ? rows[rows.length - 1].seq : null,
    };
  }

  /**
   * The Overview's numbers: what the user's devices reported, in buckets (SQL), and their queue
   * depth now, summed over each device's latest health report.
   */
  async stats(userId: string, range: StatsRange): Promise<ActivityStats> {
    const window = statsWindowFor(range, this.deps.clock.now());
    const [rows, devices] = await Promise.all([
      this.deps.repo.activityStats(userId, window),
      this.deps.devices.listUserDevices(userId),
    ]);
    const queueDepth = devices.reduce((sum, d) => sum + (d.health?.checks['webhooks:queue']?.observedValue ?? 0), 0);
    return assembleStats(range, window, { ...rows, queueDepth });
  }

  async get(userId: string, id: string): Promise<ServerDeliveryView & { attemptLog: ServerAttemptView[] }> {
    const found = await this.deps.repo.getUserDelivery(userId, id);
    if (!found) throw notFound(id);
    return { ...toDeliveryView(found), attemptLog: found.attemptLog.map(toAttemptView) };
  }

  /**
   * Ask the device to send the delivery again (a push: the device redelivers, and the new attempt
   * comes back with its next report). Only a device that is connected gets pushes, so one not seen
   * lately is refused rather than asked in vain.
   */
  async redeliver(userId: string, id: string): Promise<{ id: string; deviceId: string }> {
    const found = await this.deps.repo.getUserDelivery(userId, id);
    if (!found) throw notFound(id);
    if (found.state === 'cancelled') {
      throw new ConflictError(
        `delivery "${id}" was cancelled because its webhook was deleted or replaced; it cannot be sent again`,
      );
    }
    const device = await this.deps.devices.getUserDevice(userId, found.deviceId);
    if (!device) throw notFound(id);
    const silentFor = this.deps.clock.now() - device.lastSeen;
    if (silentFor > DEVICE_ONLINE_WITHIN_MS) {
      throw new ConflictError(
        `device "${device.name}" (${device.id}) was last seen ${Math.round(silentFor / 1000)} s ago: it gets redelivery requests only while connected; try again when it is online, or use Redeliver on its own dashboard`,
      );
    }
    await this.deps.hub.publish([device.id], { type: 'DeliveryRedeliverRequested', data: { id } });
    return { id, deviceId: device.id };
  }

  /** The device's Local webhook list as it last reported it (managed on the device, shown here). */
  async localWebhooks(userId: string, deviceId: string): Promise<LocalWebhooksView> {
    const found = await this.deps.devices.getLocalWebhooks(userId, deviceId);
    if (!found) throw new NotFoundError(`you have no device with id "${deviceId}"; GET /devices lists yours`);
    return toLocalWebhooksView({ deviceId, ...found });
  }

  /** Every device's Local webhook list, in one read (a dashboard of many devices asks once). */
  async allLocalWebhooks(userId: string): Promise<LocalWebhooksView[]> {
    return (await this.deps.devices.listLocalWebhooks(userId)).map(toLocalWebhooksView);
  }
}

type LocalWebhooksView = {
  deviceId: string;
  reportedAt: string | null;
  webhooks: (ReportedWebhook & { source: 'Local' })[];
};

const toLocalWebhooksView = (found: {
  deviceId: string;
  webhooks: ReportedWebhook[] | null;
  reportedAt: number | null;
}): LocalWebhooksView => ({
  deviceId: found.deviceId,
  reportedAt: found.reportedAt === null ? null : iso(found.reportedAt),
  webhooks: (found.webhooks ?? []).map((hook) => ({ ...hook, source: 'Local' as const })),
});

const notFound = (id: string) => new NotFoundError(`you have no delivery with id "${id}"; GET /deliveries lists yours`);

/**
 * One version per delivery (the newest, should a report name one twice) and one copy per attempt
 * number: the store updates each row once per report.
 */
function newestOfEach(deliveries: readonly ReportedDelivery[]): ReportedDelivery[] {
  const byId = new Map<string, ReportedDelivery>();
  for (const d of deliveries) {
    const seen = byId.get(d.id);
    if (!seen || d.attempts > seen.attempts || (d.attempts === seen.attempts && d.updatedAt > seen.updatedAt))
      byId.set(d.id, d);
  }
  return [...byId.values()].map((d) => ({
    ...d,
    attemptLog: [...new Map(d.attemptLog.map((a) => [a.number, a])).values()],
  }));
}

/**
 * `value` with every NUL character in its strings replaced by U+FFFD (the replacement character):
 * a copy where there is one, the same value where there is none (nearly every report).
 */
export function withoutNulCharacters<T>(value: T): T {
  return hasNulCharacter(value) ? replaceNulCharacters(value) : value;
}

function hasNulCharacter(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNulCharacter);
  if (value !== null && typeof value === 'object') {
    for (const key in value) {
      if (key.includes('\u0000') || hasNulCharacter((value as Record<string, unknown>)[key])) return true;
    }
  }
  return false;
}

function replaceNulCharacters<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value) as T;
  if (Array.isArray(value)) return value.map(replaceNulCharacters) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [replaceNulCharacters(key), replaceNulCharacters(item)]),
    ) as T;
  }
  return value;
}
