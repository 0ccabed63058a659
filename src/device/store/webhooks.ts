import type { Db } from './database.ts';
import type { Outbox } from './outbox.ts';
import type { EventName, Webhook, WebhookSource } from '../../protocol/index.ts';
import { redactUrl } from '../../protocol/index.ts';

export interface StoredWebhook {
  source: WebhookSource;
  id: string;
  url: string;
  event: EventName;
  deviceId: string | null;
}

const COLUMNS = `source, id, url, event, device_id AS deviceId`;

export const DELETED_REASON = 'cancelled: the webhook was deleted';
export const REPLACED_REASON = 'cancelled: the webhook was replaced by one with another URL or event';

/** Called after a list changed (and committed), with the deliveries that change cancelled. */
export type WebhookListener = (source: WebhookSource, cancelledDeliveryIds: readonly string[]) => void;

/**
 * Both webhook lists the device keeps: Local (its own API) and Cloud (synced from the server).
 * A webhook deleted, or replaced by one with another URL or event, takes its pending deliveries
 * with it (`cancelled`, in the same transaction): they would otherwise go on retrying a URL nobody
 * asked for any more, for up to the whole retry budget.
 */
export class WebhookStore {
  private readonly statements;
  private readonly listeners = new Set<WebhookListener>();
  /**
   * `matching` per event, read from the table once: every event asks (20 webhooks cost ~90 µs of
   * the SMS's commit to read). Every write to the table goes through this class and empties it
   * once its transaction is over, committed or rolled back.
   */
  private readonly matchingCache = new Map<EventName, readonly StoredWebhook[]>();

  constructor(
    private readonly db: Db,
    private readonly outbox: Pick<Outbox, 'cancelForWebhook'>,
  ) {
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
  matching(event: EventName): readonly StoredWebhook[] {
    let hooks = this.matchingCache.get(event);
    if (!hooks) this.matchingCache.set(event, (hooks = Object.freeze(this.statements.matching.all(event))));
    return hooks;
  }

  /** Run a write to the table in a transaction; `matching` reads it again afterwards, whatever the outcome. */
  private writing<T>(run: () => T): T {
    try {
      return this.db.transaction(run)();
    } finally {
      this.matchingCache.clear();
    }
  }

  /**
   * Insert, or replace the webhook with the same id in the same list. Registering the same URL and
   * event again (a receiver that registers itself at every start) keeps its pending deliveries.
   */
  upsert(hook: StoredWebhook, now: number): void {
    const cancelled = this.writing(() => {
      const before = this.statements.get.get(hook.source, hook.id);
      this.write(hook, now);
      return before && redirected(before, hook)
        ? this.outbox.cancelForWebhook(hook.source, hook.id, now, REPLACED_REASON)
        : [];
    });
    this.changed(hook.source, cancelled);
  }

  private write(hook: StoredWebhook, now: number): void {
    this.statements.upsert.run(hook.source, hook.id, hook.url, hook.event, hook.deviceId, now);
  }

  remove(source: WebhookSource, id: string, now: number): void {
    const cancelled = this.writing(() =>
      this.statements.remove.run(source, id).changes > 0
        ? this.outbox.cancelForWebhook(source, id, now, DELETED_REASON)
        : null,
    );
    if (cancelled) this.changed(source, cancelled);
  }

  /**
   * The Cloud list is replaced whole, in one transaction, on every sync; the deliveries of the
   * webhooks that left it, or now point elsewhere, are cancelled with it.
   */
  replaceCloud(hooks: readonly Omit<StoredWebhook, 'source'>[], now: number): void {
    const cancelled = this.writing(() => {
      const next = new Map(hooks.map((hook) => [hook.id, hook]));
      const ended: string[] = [];
      for (const before of this.list('Cloud')) {
        const after = next.get(before.id);
        if (after && !redirected(before, after)) continue;
        ended.push(...this.outbox.cancelForWebhook('Cloud', before.id, now, after ? REPLACED_REASON : DELETED_REASON));
      }
      this.statements.removeCloud.run();
      for (const hook of hooks) this.write({ ...hook, source: 'Cloud' }, now);
      return ended;
    });
    this.changed('Cloud', cancelled);
  }

  /** Called after a list changed (and committed); returns the function that stops it. */
  onChange(listener: WebhookListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(source: WebhookSource, cancelledDeliveryIds: readonly string[]): void {
    for (const listener of this.listeners) listener(source, cancelledDeliveryIds);
  }
}

/** Deliveries made for `before` would not go where `after` says. */
const redirected = (before: Pick<StoredWebhook, 'url' | 'event'>, after: Pick<StoredWebhook, 'url' | 'event'>) =>
  before.url !== after.url || before.event !== after.event;

/** A webhook as the Local API and the dashboard show it: its URL's credentials masked. */
export function toWireWebhook(hook: StoredWebhook): Webhook {
  return { id: hook.id, url: redactUrl(hook.url), event: hook.event, deviceId: hook.deviceId, source: hook.source };
}
