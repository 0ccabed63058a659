import type { Db } from './store/database.ts';
import type { ClaimedDelivery, DeliveryTarget, Outbox } from './store/outbox.ts';
import type { StoredWebhook, WebhookStore } from './store/webhooks.ts';
import type { EventName, EventPayload } from '../protocol/index.ts';
import type { Clock } from '../shared/clock.ts';

export interface EmittedEvent {
  eventId: string;
  event: EventName;
  payload: unknown;
  deliveryIds: string[];
  at: number;
}

export interface DeviceIdentity {
  /** the device's own id: Local webhooks' envelopes carry it */
  localDeviceId: string;
  /** the id the server assigned, once linked: Cloud webhooks' envelopes carry it */
  cloudDeviceId(): string | null;
  setCloudDeviceId(id: string): void;
}

/**
 * Where every device event enters the outbox. `record` writes the event and one delivery per
 * matching webhook (Local and Cloud) in one transaction; `emit` also wakes the dispatcher.
 */
export class DeviceEvents {
  private readonly listeners: ((event: EmittedEvent) => void)[] = [];
  private readonly pendingNotifications: EmittedEvent[] = [];
  private readonly pendingReady: ClaimedDelivery[] = [];

  constructor(
    private readonly deps: {
      db: Db;
      outbox: Outbox;
      webhooks: WebhookStore;
      identity: DeviceIdentity;
      clock: Clock;
      /**
       * Deliveries committed: start them. `ready` are the new deliveries as `enqueue` handed them
       * out, or undefined when they are only in the database (flushed inside a transaction that
       * has not committed yet, so they must not be sent from memory).
       */
      wake: (ready?: readonly ClaimedDelivery[]) => void;
    },
  ) {}

  /**
   * Record an event. Inside a caller's transaction the event commits (or rolls back) with it;
   * call `flush()` after that transaction to wake the dispatcher and notify listeners.
   */
  record<E extends EventName>(event: E, payload: EventPayload<E>): EmittedEvent {
    return this.recordFor(event, payload, this.deps.webhooks.matching(event));
  }

  /**
   * Record an event for these webhooks only, whatever they subscribe to, and start delivering it:
   * a test event goes through the outbox, signed and retried like any other.
   */
  emitTo<E extends EventName>(event: E, payload: EventPayload<E>, hooks: readonly StoredWebhook[]): EmittedEvent {
    const emitted = this.recordFor(event, payload, hooks);
    this.flush();
    return emitted;
  }

  private recordFor<E extends EventName>(
    event: E,
    payload: EventPayload<E>,
    hooks: readonly StoredWebhook[],
  ): EmittedEvent {
    const { outbox, identity, clock } = this.deps;
    const cloudId = identity.cloudDeviceId();
    const targets: DeliveryTarget[] = hooks.map((hook) => ({
      source: hook.source,
      webhookId: hook.id,
      url: hook.url,
      envelopeDeviceId: hook.source === 'Cloud' && cloudId ? cloudId : identity.localDeviceId,
    }));
    const at = clock.now();
    const { eventId, deliveryIds, ready } = outbox.enqueue(event, payload, targets, at);
    const emitted = { eventId, event, payload, deliveryIds, at };
    this.pendingNotifications.push(emitted);
    for (const delivery of ready) this.pendingReady.push(delivery);
    return emitted;
  }

  /** Record and commit an event on its own, then start delivering it at once. */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): EmittedEvent {
    const emitted = this.record(event, payload);
    this.flush();
    return emitted;
  }

  flush(): void {
    if (this.pendingNotifications.length === 0) return;
    const ready = this.pendingReady.splice(0);
    this.deps.wake(this.deps.db.inTransaction ? undefined : ready);
    for (const emitted of this.pendingNotifications.splice(0)) {
      for (const listener of this.listeners) listener(emitted);
    }
  }

  /** Discard notifications of a transaction that rolled back. */
  discardPending(): void {
    this.pendingNotifications.length = 0;
    this.pendingReady.length = 0;
  }

  onEvent(listener: (event: EmittedEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }
}
