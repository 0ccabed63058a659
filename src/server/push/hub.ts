import { PULL_HINT_TYPES, type HealthCheck, type PushEvent } from '../../protocol/index.ts';

export type PushListener = (event: PushEvent) => void;

/**
 * What the user's dashboards are told about their devices' webhook activity (never the devices):
 * an event a device recorded, a new attempt, a delivery that changed. Small: ids, states and a
 * short summary; the page fetches the details.
 */
export const ACTIVITY_NOTICE_TYPES = ['event', 'attempt', 'delivery'] as const;
export interface ActivityNotice {
  type: (typeof ACTIVITY_NOTICE_TYPES)[number];
  data: Record<string, unknown>;
}
export type ActivityListener = (notice: ActivityNotice) => void;

/**
 * Credentials that stopped counting. What they opened must end with them, on every node: the
 * user's remembered logins and live streams (a password changed), the streams of a token family
 * (revoked), a device's push stream (the device deleted).
 */
export type RevocationNotice =
  | { kind: 'password'; userId: string }
  | { kind: 'tokens'; userId: string; familyId: string }
  | { kind: 'device'; userId: string; deviceId: string };
export type RevocationListener = (notice: RevocationNotice) => void;

/** What a cache on this node learns from the hub (see `PushHub.watch`). */
export interface HubWatcher {
  /** an event for all of one user's devices, whichever node or statement published it */
  userEvent(userId: string, event: PushEvent): void;
  /** events may have been missed (a cross-node connection was lost): drop whatever they would have refreshed */
  gap(): void;
}

/**
 * Delivers push events to the devices connected to this process, and, for a multi-node hub
 * (`PostgresPushHub`, on LISTEN/NOTIFY), to those connected to the other nodes.
 */
export interface PushHub {
  /** resolves once the event is on its way (it never fails because a device is away) */
  publish(deviceIds: readonly string[], event: PushEvent): Promise<void>;
  /** to every device of the user: each node delivers to the streams it holds for that user */
  publishToUser(userId: string, event: PushEvent): Promise<void>;
  /** listen for one device's events (on a stream open on this process); returns the unsubscribe function */
  subscribe(device: { id: string; userId: string }, listener: PushListener): () => void;
  /** see every user-scoped event and every gap (for caches); returns the function that stops it */
  watch(watcher: HubWatcher): () => void;
  /**
   * An event for all of the user's devices that the store announced itself (in the write's own
   * statement), heard here on the node that wrote it: pushes beyond the event streams (the push
   * relay) start here, once.
   */
  announcedByStore?(userId: string, event: PushEvent): void;
  /** to the user's activity listeners (dashboards), on every node; devices' push streams never get these */
  publishActivity(userId: string, notices: readonly ActivityNotice[]): Promise<void>;
  /** listen for one user's activity notices on this process; returns the unsubscribe function */
  subscribeActivity(userId: string, listener: ActivityListener): () => void;
  /** to every node, this one included: credentials that stopped counting */
  publishRevocation(notice: RevocationNotice): Promise<void>;
  /** hear every revocation, whichever node published it; returns the function that stops it */
  onRevocation(listener: RevocationListener): () => void;
  /** false while events from other nodes may be missed (always true for a single process) */
  readonly complete: boolean;
  /** extra health checks (e.g. `events:listen`), merged into GET /health */
  health?(): Record<string, HealthCheck>;
  close(): Promise<void>;
}

/** Every pull hint once: a device pulls everything on these (after a gap in the push channel). */
export const RE_PULL_EVENTS: readonly PushEvent[] = PULL_HINT_TYPES.map((type) => ({ type, data: {} }));

/** The single-process hub: maps from device id to the listeners of its open streams, and from user to those devices. */
export class InProcessPushHub implements PushHub {
  private readonly listeners = new Map<string, Set<PushListener>>();
  private readonly userDevices = new Map<string, Set<string>>();
  private readonly watchers = new Set<HubWatcher>();
  private readonly activity = new Map<string, Set<ActivityListener>>();
  private readonly revocationListeners = new Set<RevocationListener>();

  get complete(): boolean {
    return true;
  }

  async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    for (const deviceId of new Set(deviceIds)) this.deliver(deviceId, event);
  }

  async publishToUser(userId: string, event: PushEvent): Promise<void> {
    for (const watcher of this.watchers) watcher.userEvent(userId, event);
    for (const deviceId of this.userDevices.get(userId) ?? []) this.deliver(deviceId, event);
  }

  /** Push to every stream open on this process. */
  async broadcast(event: PushEvent): Promise<void> {
    await this.publish([...this.listeners.keys()], event);
  }

  /** Tell the watchers that events may have been missed. */
  gap(): void {
    for (const watcher of this.watchers) watcher.gap();
  }

  subscribe(device: { id: string; userId: string }, listener: PushListener): () => void {
    let set = this.listeners.get(device.id);
    if (!set) this.listeners.set(device.id, (set = new Set()));
    set.add(listener);
    let devices = this.userDevices.get(device.userId);
    if (!devices) this.userDevices.set(device.userId, (devices = new Set()));
    devices.add(device.id);
    return () => {
      set.delete(listener);
      if (set.size > 0 || this.listeners.get(device.id) !== set) return;
      this.listeners.delete(device.id);
      devices.delete(device.id);
      if (devices.size === 0 && this.userDevices.get(device.userId) === devices) this.userDevices.delete(device.userId);
    };
  }

  watch(watcher: HubWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  async publishActivity(userId: string, notices: readonly ActivityNotice[]): Promise<void> {
    for (const listener of this.activity.get(userId) ?? []) {
      for (const notice of notices) {
        try {
          listener(notice);
        } catch {
          // one broken stream must not keep the notice from the others
        }
      }
    }
  }

  subscribeActivity(userId: string, listener: ActivityListener): () => void {
    let set = this.activity.get(userId);
    if (!set) this.activity.set(userId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.activity.get(userId) === set) this.activity.delete(userId);
    };
  }

  async publishRevocation(notice: RevocationNotice): Promise<void> {
    for (const listener of this.revocationListeners) {
      try {
        listener(notice);
      } catch {
        // one listener's failure must not keep the news from the others
      }
    }
  }

  onRevocation(listener: RevocationListener): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** dashboards' activity listeners on this process (for tests) */
  activityListeners(): number {
    let n = 0;
    for (const set of this.activity.values()) n += set.size;
    return n;
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
    this.userDevices.clear();
    this.watchers.clear();
    this.activity.clear();
    this.revocationListeners.clear();
  }

  private deliver(deviceId: string, event: PushEvent): void {
    for (const listener of this.listeners.get(deviceId) ?? []) {
      try {
        listener(event);
      } catch {
        // one broken stream must not keep the event from the others
      }
    }
  }
}
