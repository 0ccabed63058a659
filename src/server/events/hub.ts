import type { HealthCheck } from '../../protocol/index.ts';

/** What the server pushes to devices; the device then pulls what changed. */
export const PUSH_EVENT_TYPES = ['MessageEnqueued', 'WebhooksUpdated', 'SettingsUpdated'] as const;
export type PushEventType = (typeof PUSH_EVENT_TYPES)[number];

export interface PushEvent {
  type: PushEventType;
  /** small hints (e.g. the message id); devices must not rely on them, they re-pull */
  data: Record<string, unknown>;
}

export type PushListener = (event: PushEvent) => void;

/**
 * Delivers push events to the devices connected to this process, and, for a multi-node hub
 * (`PostgresEventHub`, on LISTEN/NOTIFY), to those connected to the other nodes.
 */
export interface EventHub {
  /** resolves once the event is on its way (it never fails because a device is away) */
  publish(deviceIds: readonly string[], event: PushEvent): Promise<void>;
  /** listen for one device's events (on a stream open on this process); returns the unsubscribe function */
  subscribe(deviceId: string, listener: PushListener): () => void;
  /** extra health checks (e.g. `events:listen`), merged into GET /health */
  health?(): Record<string, HealthCheck>;
  close(): Promise<void>;
}

/** Every push type once: a device pulls everything on these (after a gap in the push channel). */
export const RE_PULL_EVENTS: readonly PushEvent[] = PUSH_EVENT_TYPES.map((type) => ({ type, data: {} }));

/** The single-process hub: a map from device id to the listeners of its open streams. */
export class InProcessEventHub implements EventHub {
  private readonly listeners = new Map<string, Set<PushListener>>();

  async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    for (const deviceId of new Set(deviceIds)) {
      for (const listener of this.listeners.get(deviceId) ?? []) {
        try {
          listener(event);
        } catch {
          // one broken stream must not keep the event from the others
        }
      }
    }
  }

  /** Push to every stream open on this process. */
  async broadcast(event: PushEvent): Promise<void> {
    await this.publish([...this.listeners.keys()], event);
  }

  subscribe(deviceId: string, listener: PushListener): () => void {
    let set = this.listeners.get(deviceId);
    if (!set) this.listeners.set(deviceId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(deviceId) === set) this.listeners.delete(deviceId);
    };
  }

  /** open streams of one device (for tests and health) */
  connections(deviceId?: string): number {
    if (deviceId !== undefined) return this.listeners.get(deviceId)?.size ?? 0;
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
