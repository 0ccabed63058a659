import { withoutContent, type HealthCheck, type PushEvent } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import { USER_AGENT } from '../../shared/version.ts';
import type { PushHub } from './hub.ts';

/**
 * The relay the Android app's own servers push through: it holds the credentials of the app's push
 * service (Firebase Cloud Messaging), so a private server can wake a phone that registered a push
 * token without having them. Pushes go to `${url}/push`.
 */
export const DEFAULT_PUSH_RELAY_URL = 'https://api.sms-gate.app/upstream/v1';

/**
 * One push as the relay takes it: `POST {url}/push` with a JSON array of these, answered 202.
 * Every value of `data` is a string (push services carry string maps only).
 */
export interface RelayedPush {
  token: string;
  event: string;
  data: Record<string, string>;
}

export interface PushRelayOptions {
  /** the relay's base URL (default `DEFAULT_PUSH_RELAY_URL`); pushes go to `${url}/push` */
  url?: string;
  clock: Clock;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** pushes made within this long go in one request (default 50 ms) */
  batchDelayMs?: number;
  /** one request's deadline (default 10 s) */
  timeoutMs?: number;
  /** tries per push before it is given up (default 3) */
  maxAttempts?: number;
  /** delay before the first retry, doubled for each further one (default 1 s) */
  retryDelayMs?: number;
  /** pushes waiting at most; more are dropped with a warning (default 10,000) */
  maxQueued?: number;
}

/** Most pushes in one request (what a push service takes in one batch). */
const MAX_BATCH = 500;

interface Queued extends RelayedPush {
  attempts: number;
}

/**
 * Sends pushes through the relay. Pushes made close together go in one request; a newer push of
 * the same kind to the same token replaces one still waiting (they only say "pull this"). A failed
 * request (a network error, a timeout, a status ≥ 400) is tried again with a growing delay, up to
 * `maxAttempts`; then the pushes are given up: the phone still pulls on its own periodic sync.
 */
export class PushRelay {
  readonly url: string;
  private readonly queue = new Map<string, Queued>();
  private timer: unknown = undefined;
  private timerAt = Infinity;
  private sending: Promise<unknown> | undefined;
  private closed = false;
  /** whether the last request failed (until one gets through) */
  private failing = false;
  /** pushes given up after their last try, since the start */
  private givenUpTotal = 0;

  constructor(private readonly options: PushRelayOptions) {
    this.url = (options.url ?? DEFAULT_PUSH_RELAY_URL).replace(/\/+$/, '');
  }

  /** Queue a push of `event` to the phone with this push token. */
  push(token: string, event: PushEvent): void {
    if (this.closed) return;
    const key = `${token}\n${event.type}`;
    if (!this.queue.has(key) && this.queue.size >= (this.options.maxQueued ?? 10_000)) {
      this.options.logger.warn({ event: event.type }, 'push relay: too many pushes waiting; this one is dropped');
      return;
    }
    this.queue.delete(key); // the newer one goes to the back
    // the phone pulls what it is told of: a message's content stays off the push service
    this.queue.set(key, { token, event: event.type, data: stringData(withoutContent(event).data), attempts: 0 });
    this.schedule(this.options.batchDelayMs ?? 50);
  }

  /** Pushes waiting (for tests and health). */
  get waiting(): number {
    return this.queue.size;
  }

  /** For GET /health: `warn` while the relay does not take pushes (they are being retried). */
  health(): HealthCheck {
    return {
      description: `push relay ${this.url.slice(0, 120)}: pushes waiting (${this.failing ? 'the last request failed, retrying' : 'taking pushes'}; ${this.givenUpTotal} given up since start)`,
      observedValue: this.queue.size,
      observedUnit: 'pushes',
      status: this.failing ? 'warn' : 'pass',
    };
  }

  /** Stop: what waits is dropped, a request on its way is awaited. */
  async close(): Promise<void> {
    this.closed = true;
    this.options.clock.clearTimeout(this.timer);
    this.queue.clear();
    await this.sending;
  }

  private schedule(delayMs: number): void {
    const at = this.options.clock.now() + delayMs;
    if (this.closed || at >= this.timerAt) return;
    this.options.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.flush();
    }, delayMs);
  }

  /** Send one batch of what is due (one request at a time); schedules the next. */
  private async flush(): Promise<void> {
    if (this.sending || this.closed) return;
    const due = [...this.queue.entries()].slice(0, MAX_BATCH);
    if (due.length === 0) return;
    for (const [key] of due) this.queue.delete(key);
    const request = this.send(due.map(([, push]) => push));
    this.sending = request;
    try {
      const failure = await request;
      this.failing = failure !== undefined;
      if (failure !== undefined) this.retry(due, failure);
    } finally {
      this.sending = undefined;
    }
    if (this.queue.size > 0 && this.timer === undefined) this.schedule(0);
  }

  private retry(due: [string, Queued][], failure: string): void {
    let givenUp = 0;
    let next = Infinity;
    for (const [key, push] of due) {
      push.attempts++;
      if (push.attempts >= (this.options.maxAttempts ?? 3)) {
        givenUp++;
        this.givenUpTotal++;
        continue;
      }
      if (this.queue.has(key)) continue; // a newer push of the same kind waits already
      this.queue.set(key, push);
      next = Math.min(next, (this.options.retryDelayMs ?? 1000) * 2 ** (push.attempts - 1));
    }
    this.options.logger.warn(
      { relay: this.url, pushes: due.length, givenUp },
      `push relay: ${failure}; ${givenUp > 0 ? `${givenUp} push(es) given up, the rest ` : ''}tried again later`,
    );
    if (next < Infinity) this.schedule(next);
  }

  /** One request; undefined when the relay took it, else what went wrong. */
  private async send(pushes: RelayedPush[]): Promise<string | undefined> {
    const body: RelayedPush[] = pushes.map(({ token, event, data }) => ({ token, event, data }));
    try {
      const response = await fetch(`${this.url}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': `${USER_AGENT} (server)` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      const text = await response.text().catch(() => '');
      if (response.status >= 400) return `${this.url}/push answered ${response.status} ${text.slice(0, 200)}`;
      return undefined;
    } catch (error) {
      return `${this.url}/push failed: ${(error as Error).message}`;
    }
  }
}

/** Push services carry string maps: strings stay, anything else is written as JSON; absent keys are left out. */
function stringData(data: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined || value === null) continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** Where the relaying hub finds the phones to wake. */
export interface PushTargets {
  /** the device's user and push token (undefined: no such device) */
  device(deviceId: string): Promise<{ userId: string; pushToken: string | null } | undefined>;
  /** the push tokens of the user's devices that have one */
  userTokens(userId: string): Promise<string[]>;
  /** whether the user switched their devices to the event stream alone (`gateway.notification_channel`) */
  sseOnly(userId: string): Promise<boolean>;
}

/**
 * A hub that also wakes phones through the relay. Every push still goes to the devices' event
 * streams; a device that registered a push token gets it through the relay as well, unless its
 * user set `gateway.notification_channel` to `SSE_ONLY`. `SettingsUpdated` is relayed whatever the
 * setting: it is how a phone learns of a switch to `SSE_ONLY` (and back).
 */
export class RelayingPushHub implements PushHub {
  readonly subscribe: PushHub['subscribe'];
  readonly watch: PushHub['watch'];
  readonly publishActivity: PushHub['publishActivity'];
  readonly subscribeActivity: PushHub['subscribeActivity'];
  readonly publishRevocation: PushHub['publishRevocation'];
  readonly onRevocation: PushHub['onRevocation'];
  readonly health: PushHub['health'];

  constructor(
    private readonly inner: PushHub,
    readonly relay: PushRelay,
    private readonly targets: PushTargets,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {
    this.subscribe = inner.subscribe.bind(inner);
    this.watch = inner.watch.bind(inner);
    this.publishActivity = inner.publishActivity.bind(inner);
    this.subscribeActivity = inner.subscribeActivity.bind(inner);
    this.publishRevocation = inner.publishRevocation.bind(inner);
    this.onRevocation = inner.onRevocation.bind(inner);
    this.health = () => ({ ...inner.health?.(), 'push:relay': relay.health() });
  }

  get complete(): boolean {
    return this.inner.complete;
  }

  async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    await this.inner.publish(deviceIds, event);
    this.relayed(async () => {
      for (const deviceId of new Set(deviceIds)) {
        const target = await this.targets.device(deviceId);
        if (target?.pushToken && !(await this.silenced(target.userId, event))) this.relay.push(target.pushToken, event);
      }
    });
  }

  async publishToUser(userId: string, event: PushEvent): Promise<void> {
    await this.inner.publishToUser(userId, event);
    this.relayed(() => this.relayToUser(userId, event));
  }

  private async relayToUser(userId: string, event: PushEvent): Promise<void> {
    if (await this.silenced(userId, event)) return;
    for (const token of new Set(await this.targets.userTokens(userId))) this.relay.push(token, event);
  }

  announcedByStore(userId: string, event: PushEvent): void {
    this.inner.announcedByStore?.(userId, event);
    this.relayed(() => this.relayToUser(userId, event));
  }

  async close(): Promise<void> {
    await this.relay.close();
    await this.inner.close();
  }

  private async silenced(userId: string, event: PushEvent): Promise<boolean> {
    return event.type !== 'SettingsUpdated' && (await this.targets.sseOnly(userId));
  }

  /** The relay never holds up or fails a publish: the event streams have it already. */
  private relayed(work: () => Promise<void>): void {
    work().catch((error: Error) =>
      this.logger.warn({ err: error }, `push relay: could not find the phones to wake: ${error.message}`),
    );
  }
}
