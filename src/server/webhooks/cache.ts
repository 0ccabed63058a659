import type { WebhookRecord, WebhooksRepository } from './repository.ts';

const MAX_CACHED_USERS = 10_000;

/**
 * Each user's webhook list, kept in memory: `GET /webhooks` and every device's sync read it far
 * more often than anyone changes it. Only for a server that is the single process on its store
 * (SQLite): every write then goes through here and drops the user's entry. Several nodes on one
 * PostgreSQL database read the table each time, so that a write on one is seen at once on all.
 *
 * A read that raced with a write is not kept: each write bumps a generation, and a list read from
 * the store is cached only if no write happened while it was read.
 */
export class CachedWebhooksRepository implements WebhooksRepository {
  private readonly lists = new Map<string, WebhookRecord[]>();
  private generation = 0;

  constructor(private readonly repo: WebhooksRepository) {}

  async listUserWebhooks(userId: string): Promise<WebhookRecord[]> {
    const cached = this.lists.get(userId);
    if (cached) return cached;
    const generation = this.generation;
    const list = await this.repo.listUserWebhooks(userId);
    if (generation === this.generation) {
      if (this.lists.size >= MAX_CACHED_USERS) this.lists.delete(this.lists.keys().next().value!);
      this.lists.set(userId, list);
    }
    return list;
  }

  /** The user's list filtered: the device's own webhooks and the device-less ones, in the same order. */
  async listDeviceWebhooks(userId: string, deviceId: string): Promise<WebhookRecord[]> {
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
