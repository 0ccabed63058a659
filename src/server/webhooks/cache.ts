import type { Clock } from '../../shared/clock.ts';
import type { PushHub } from '../push/hub.ts';
import type { WebhookRecord, WebhooksRepository } from './repository.ts';

const MAX_CACHED_USERS = 10_000;

/** How long a cached list is trusted when other nodes write to the same store (see below). */
const SHARED_STORE_MAX_AGE_MS = 10_000;

interface CachedList {
  list: WebhookRecord[];
  readAt: number;
}

/**
 * Each user's webhook list, kept in memory: `GET /webhooks` and every device's sync read it far
 * more often than anyone changes it.
 *
 * - A write through this node drops the user's entry at once, so this node reads its own writes.
 * - On a store shared by several nodes (PostgreSQL), a write on another node reaches this one as
 *   the user's `WebhooksUpdated` event, which the write statement itself sends (NOTIFY commits with
 *   the change). Between the commit and its arrival, milliseconds, this node may still answer the
 *   old list.
 * - While the hub may be missing events (its LISTEN connection is down) the cache is bypassed, and
 *   it is emptied when that is noticed and again when the connection is back. A connection that
 *   dies silently is noticed by the hub's heartbeat; until then `maxAgeMs` bounds how old a list
 *   can be.
 * - Also on a shared store, a device's own list (what it syncs on `WebhooksUpdated`) is read from
 *   the store: the device asks right after the push, possibly through another node that has not
 *   yet had the notification.
 * - A read that raced with a change is not kept: every change bumps a generation, and a list read
 *   from the store is cached only if no change happened while it was read.
 */
export class CachedWebhooksRepository implements WebhooksRepository {
  private readonly lists = new Map<string, CachedList>();
  private generation = 0;

  private readonly maxAgeMs: number;

  constructor(
    private readonly repo: WebhooksRepository,
    private readonly hub: PushHub,
    private readonly clock: Clock,
    /** true when other nodes write to the same store (PostgreSQL) */
    private readonly shared: boolean,
  ) {
    this.maxAgeMs = shared ? SHARED_STORE_MAX_AGE_MS : Number.POSITIVE_INFINITY;
    // (the hub forgets its watchers when it closes)
    hub.watch({
      userEvent: (userId, event) => {
        if (event.type === 'WebhooksUpdated') this.changed(userId);
      },
      gap: () => {
        this.generation++;
        this.lists.clear();
      },
    });
  }

  get announcesChanges(): boolean {
    return this.repo.announcesChanges;
  }

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    if (!this.hub.complete) return this.repo.listUserWebhooks(userId);
    const now = this.clock.now();
    const cached = this.lists.get(userId);
    if (cached && now - cached.readAt < this.maxAgeMs) return cached.list;
    const generation = this.generation;
    const list = await this.repo.listUserWebhooks(userId);
    if (generation === this.generation && this.hub.complete) {
      this.lists.delete(userId);
      if (this.lists.size >= MAX_CACHED_USERS) this.lists.delete(this.lists.keys().next().value!);
      this.lists.set(userId, { list, readAt: now });
    }
    return list;
  }

  /** The user's list filtered: the device's own webhooks and the device-less ones, in the same order. */
  async listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]> {
    if (this.shared) return this.repo.listDeviceWebhooks(userId, deviceId);
    return (await this.listUserWebhooks(userId)).filter((w) => w.deviceId === null || w.deviceId === deviceId);
  }

  async upsertWebhook(webhook: WebhookRecord): Promise<WebhookRecord> {
    try {
      return await this.repo.upsertWebhook(webhook);
    } finally {
      this.changed(webhook.userId);
    }
  }

  async deleteUserWebhook(userId: string, id: string): Promise<boolean> {
    try {
      return await this.repo.deleteUserWebhook(userId, id);
    } finally {
      this.changed(userId);
    }
  }

  async deleteDeviceWebhooks(userId: string, deviceId: string): Promise<number> {
    try {
      return await this.repo.deleteDeviceWebhooks(userId, deviceId);
    } finally {
      this.changed(userId);
    }
  }

  private changed(userId: string): void {
    this.generation++;
    this.lists.delete(userId);
  }
}
