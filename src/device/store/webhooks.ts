import type { Db } from './database.ts';
import type { EventName, Webhook, WebhookSource } from '../../protocol/index.ts';

export interface StoredWebhook {
  source: WebhookSource;
  id: string;
  url: string;
  event: EventName;
  deviceId: string | null;
}

const COLUMNS = `source, id, url, event, device_id AS deviceId`;

/** Both webhook lists the device keeps: Local (its own API) and Cloud (synced from the server). */
export class WebhookStore {
  private readonly statements;
  private readonly listeners = new Set<(source: WebhookSource) => void>();

  constructor(private readonly db: Db) {
    this.statements = {
      list: db.prepare<[WebhookSource], StoredWebhook>(
        `SELECT ${COLUMNS} FROM webhooks WHERE source = ? ORDER BY created_at, id`,
      ),
      matching: db.prepare<[EventName], StoredWebhook>(
        `SELECT ${COLUMNS} FROM webhooks WHERE event = ? ORDER BY created_at, id`,
      ),
      upsert: db.prepare<[WebhookSource, string, string, EventName, string | null, number]>(
        `INSERT INTO webhooks (source, id, url, event, device_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, id) DO UPDATE SET url = excluded.url, event = excluded.event, device_id = excluded.device_id`,
      ),
      get: db.prepare<[WebhookSource, string], StoredWebhook>(
        `SELECT ${COLUMNS} FROM webhooks WHERE source = ? AND id = ?`,
      ),
      remove: db.prepare<[WebhookSource, string]>(`DELETE FROM webhooks WHERE source = ? AND id = ?`),
      removeCloud: db.prepare<[]>(`DELETE FROM webhooks WHERE source = 'Cloud'`),
    };
  }

  list(source: WebhookSource): StoredWebhook[] {
    return this.statements.list.all(source);
  }

  get(source: WebhookSource, id: string): StoredWebhook | undefined {
    return this.statements.get.get(source, id);
  }

  /** Every webhook, from either list, that wants this event. */
  matching(event: EventName): StoredWebhook[] {
    return this.statements.matching.all(event);
  }

  /** Insert, or replace the webhook with the same id in the same list. */
  upsert(hook: StoredWebhook, now: number): void {
    this.write(hook, now);
    this.changed(hook.source);
  }

  private write(hook: StoredWebhook, now: number): void {
    this.statements.upsert.run(hook.source, hook.id, hook.url, hook.event, hook.deviceId, now);
  }

  remove(source: WebhookSource, id: string): void {
    if (this.statements.remove.run(source, id).changes > 0) this.changed(source);
  }

  /** The Cloud list is replaced whole, in one transaction, on every sync. */
  replaceCloud(hooks: readonly Omit<StoredWebhook, 'source'>[], now: number): void {
    this.db.transaction(() => {
      this.statements.removeCloud.run();
      for (const hook of hooks) this.write({ ...hook, source: 'Cloud' }, now);
    })();
    this.changed('Cloud');
  }

  /** Called after a list changed (and committed); returns the function that stops it. */
  onChange(listener: (source: WebhookSource) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(source: WebhookSource): void {
    for (const listener of this.listeners) listener(source);
  }
}

export function toWireWebhook(hook: StoredWebhook): Webhook {
  return { id: hook.id, url: hook.url, event: hook.event, deviceId: hook.deviceId, source: hook.source };
}
