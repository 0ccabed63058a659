import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  parsePushEvent,
  withoutContent,
  type HealthCheck,
  type PullHintType,
  type PushEvent,
} from '../../protocol/index.ts';
import { query, type PgPool } from '../store/postgres.ts';
import { sql } from '../store/sql.ts';
import {
  ACTIVITY_NOTICE_TYPES,
  InProcessPushHub,
  RE_PULL_EVENTS,
  type ActivityListener,
  type ActivityNotice,
  type PushHub,
  type HubWatcher,
  type PushListener,
  type RevocationListener,
  type RevocationNotice,
} from './hub.ts';

/** The NOTIFY channel every node listens on. */
export const EVENTS_CHANNEL = 'smsgate_events';

const NOTIFY_SQL = sql<{ channel: string; payload: string }>('push.notify', `SELECT pg_notify(:channel, :payload)`);

/** PostgreSQL refuses payloads of 8000 bytes or more; stay well below. */
const MAX_PAYLOAD_BYTES = 7000;
/** An event's data larger than this travels without its content (`withoutContent`). */
const MAX_CONTENT_BYTES = 4000;

/** What travels in one notification. Short keys: the payload is small. */
interface Notification {
  /** the node that published it (it already delivered locally and skips its own); '' when a statement sent it */
  o: string;
  /** device ids, or */
  d?: string[];
  /** the user, for all of the user's devices (or, with `a`, the user's dashboards) */
  u?: string;
  /** push type */
  t?: PushEvent['type'];
  /** the event's data */
  x?: Record<string, unknown>;
  /** activity notices for the user's dashboards (instead of t and x) */
  a?: readonly ActivityNotice[];
  /** credentials that stopped counting (instead of all the above) */
  r?: RevocationNotice;
}

export interface PostgresPushHubOptions {
  /** the database URL (the LISTEN connection is its own, outside the pool) */
  url: string;
  /** where NOTIFY is sent from */
  pool: PgPool;
  /** retry bounds of a lost LISTEN connection (default 100 ms doubling to 5 s) */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /** how often the LISTEN connection is checked with a round trip (default 10 s), to notice a silent loss */
  heartbeatMs?: number;
  log?: (line: string) => void;
}

/**
 * The notification for an event to all of one user's devices, for a statement to send with
 * `pg_notify(channel, payload)` in the transaction of the change it announces: it goes out only
 * if the change commits, and every node (the writer's too) delivers it.
 */
export function userEventNotification(userId: string, type: PullHintType): { channel: string; payload: string } {
  return { channel: EVENTS_CHANNEL, payload: encodeUserEvent('', userId, { type, data: {} }) };
}

const encodeUserEvent = (origin: string, userId: string, event: PushEvent) =>
  JSON.stringify({ o: origin, u: userId, t: event.type, x: event.data } satisfies Notification);

const isRevocationNotice = (r: unknown): r is RevocationNotice => {
  const n = r as Partial<Record<'kind' | 'userId' | 'familyId' | 'deviceId', unknown>> | null;
  if (typeof n !== 'object' || n === null || typeof n.userId !== 'string') return false;
  return (
    n.kind === 'password' ||
    (n.kind === 'tokens' && typeof n.familyId === 'string') ||
    (n.kind === 'device' && typeof n.deviceId === 'string')
  );
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Cross-node push on PostgreSQL LISTEN/NOTIFY. `publish` delivers to the streams open on this
 * node at once and sends one NOTIFY; every other node's LISTEN connection receives it and
 * delivers to its own streams. Events are hints (the device pulls on each), so:
 *
 * - a lost LISTEN connection is reopened with backoff, and then every device connected to this
 *   node is told to re-pull everything (all push types), since events may have been missed
 *   during the gap;
 * - a NOTIFY that cannot be sent (the database is unreachable) is retried briefly, then
 *   logged: the other nodes lost their LISTEN connections too and re-pull when back.
 */
export class PostgresPushHub implements PushHub {
  /** identifies this node's own notifications */
  readonly nodeId = randomUUID();
  private readonly local = new InProcessPushHub();
  private readonly stopping = new AbortController();
  private readonly log: (line: string) => void;
  private listener: pg.Client | undefined;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** how many times the LISTEN connection was reopened */
  reconnects = 0;

  private constructor(private readonly options: PostgresPushHubOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Open the LISTEN connection (fails when the database cannot be reached) and keep it open. */
  static async start(options: PostgresPushHubOptions): Promise<PostgresPushHub> {
    const hub = new PostgresPushHub(options);
    const first = await hub.connect();
    hub.loop = hub.keepListening(first);
    return hub;
  }

  /** whether the LISTEN connection is up now */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  get complete(): boolean {
    return this.listening;
  }

  async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    const payloads = Array.from(this.payloads([...new Set(deviceIds)], event));
    await this.othersFirst(Promise.all(payloads.map((payload) => this.notify(payload))), () =>
      this.local.publish(deviceIds, event),
    );
  }

  async publishToUser(userId: string, event: PushEvent): Promise<void> {
    await this.othersFirst(this.notify(encodeUserEvent(this.nodeId, userId, event)), () =>
      this.local.publishToUser(userId, event),
    );
  }

  /**
   * The NOTIFY goes out before this node writes to its own streams: thousands of writes hold the
   * event loop, and the other nodes would only hear of the event after them, where they can write
   * to theirs meanwhile. Local delivery waits for the answer or one turn of the event loop (time
   * for a free pooled connection to send it), whichever comes first: never for a busy pool or a
   * retry.
   */
  private async othersFirst(notified: Promise<unknown>, deliverLocally: () => Promise<void>): Promise<void> {
    await Promise.race([notified, new Promise<void>((resolve) => setImmediate(resolve))]);
    await deliverLocally();
    await notified;
  }

  subscribe(device: { id: string; userId: string }, listener: PushListener): () => void {
    return this.local.subscribe(device, listener);
  }

  async publishActivity(userId: string, notices: readonly ActivityNotice[]): Promise<void> {
    if (notices.length === 0) return;
    await this.local.publishActivity(userId, notices);
    // One after the other: notifications sent at once on several pooled connections may arrive in
    // any order, and a dashboard shows attempts in the order they were reported.
    for (const payload of this.activityPayloads(userId, notices)) await this.notify(payload);
  }

  subscribeActivity(userId: string, listener: ActivityListener): () => void {
    return this.local.subscribeActivity(userId, listener);
  }

  watch(watcher: HubWatcher): () => void {
    return this.local.watch(watcher);
  }

  async publishRevocation(notice: RevocationNotice): Promise<void> {
    await this.local.publishRevocation(notice);
    await this.notify(JSON.stringify({ o: this.nodeId, r: notice } satisfies Notification));
  }

  onRevocation(listener: RevocationListener): () => void {
    return this.local.onRevocation(listener);
  }

  /** open streams on this node (for tests) */
  connections(deviceId?: string): number {
    return this.local.connections(deviceId);
  }

  health(): Record<string, HealthCheck> {
    return {
      'events:listen': this.listening
        ? {
            description: 'cross-node push (LISTEN connection up); reconnects so far',
            observedValue: this.reconnects,
            observedUnit: 'reconnects',
            status: 'pass',
          }
        : {
            description: 'cross-node push (LISTEN connection lost, reconnecting); reconnects so far',
            observedValue: this.reconnects,
            observedUnit: 'reconnects',
            status: 'warn',
          },
    };
  }

  async close(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.heartbeat);
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => {});
    await this.loop;
    await this.local.close();
  }

  /** Activity notices, as many to a notification as fit under the payload limit. */
  private *activityPayloads(userId: string, notices: readonly ActivityNotice[]): Generator<string> {
    const encode = (a: readonly ActivityNotice[]) =>
      JSON.stringify({ o: this.nodeId, u: userId, a } satisfies Notification);
    const overhead = Buffer.byteLength(encode([]));
    let batch: ActivityNotice[] = [];
    let size = overhead;
    for (const notice of notices) {
      const added = Buffer.byteLength(JSON.stringify(notice)) + 1;
      if (overhead + added > MAX_PAYLOAD_BYTES) {
        this.log(
          `events: an activity notice of ${added} bytes is too large to pass to the other nodes; only this node's dashboards got it`,
        );
        continue;
      }
      if (batch.length > 0 && size + added > MAX_PAYLOAD_BYTES) {
        yield encode(batch);
        batch = [];
        size = overhead;
      }
      batch.push(notice);
      size += added;
    }
    if (batch.length > 0) yield encode(batch);
  }

  /** Split into notifications under the payload limit (a user with very many devices). */
  private *payloads(deviceIds: string[], full: PushEvent): Generator<string> {
    // content that would crowd out the ids goes to the other nodes' devices as a pull hint
    const event = Buffer.byteLength(JSON.stringify(full.data)) > MAX_CONTENT_BYTES ? withoutContent(full) : full;
    const encode = (d: string[]) =>
      JSON.stringify({ o: this.nodeId, d, t: event.type, x: event.data } satisfies Notification);
    const overhead = Buffer.byteLength(encode([]));
    let batch: string[] = [];
    let size = overhead;
    for (const id of deviceIds) {
      const added = Buffer.byteLength(JSON.stringify(id)) + 1; // the id and its comma
      if (batch.length > 0 && size + added > MAX_PAYLOAD_BYTES) {
        yield encode(batch);
        batch = [];
        size = overhead;
      }
      batch.push(id);
      size += added;
    }
    if (batch.length > 0) yield encode(batch);
  }

  private async notify(payload: string): Promise<void> {
    const delays = [50, 250];
    for (let attempt = 0; ; attempt++) {
      try {
        await query(this.options.pool, NOTIFY_SQL, { channel: EVENTS_CHANNEL, payload });
        return;
      } catch (error) {
        if (attempt >= delays.length || this.stopping.signal.aborted) {
          this.log(
            `events: could not NOTIFY the other nodes (${(error as Error).message}); their devices re-pull when their LISTEN connections are back`,
          );
          return;
        }
        await sleep(delays[attempt], this.stopping.signal);
      }
    }
  }

  private onNotification(message: pg.Notification): void {
    if (message.channel !== EVENTS_CHANNEL || !message.payload) return;
    let n: Notification;
    try {
      n = JSON.parse(message.payload) as Notification;
    } catch {
      return;
    }
    if (n.o === this.nodeId) return;
    if (n.r !== undefined) {
      if (isRevocationNotice(n.r)) void this.local.publishRevocation(n.r);
      return;
    }
    if (Array.isArray(n.a)) {
      const notices = n.a.filter((a) => (ACTIVITY_NOTICE_TYPES as readonly string[]).includes(a?.type));
      if (typeof n.u === 'string' && notices.length > 0) void this.local.publishActivity(n.u, notices);
      return;
    }
    const event = typeof n.t === 'string' ? parsePushEvent(n.t, n.x ?? {}) : undefined;
    if (!event) return;
    if (typeof n.u === 'string') void this.local.publishToUser(n.u, event);
    else if (Array.isArray(n.d)) void this.local.publish(n.d, event);
  }

  /**
   * A connected client listening on the channel, and a promise that resolves (with the reason)
   * when that connection is lost.
   */
  private async connect(): Promise<{ client: pg.Client; lost: Promise<Error> }> {
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: 'smsgate-listen',
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    let markLost!: (reason: Error) => void;
    const lost = new Promise<Error>((resolve) => (markLost = resolve));
    client.on('error', (error) => markLost(error));
    client.on('end', () => markLost(new Error('the connection was closed')));
    client.on('notification', (message) => this.onNotification(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    this.listener = client;
    // A connection can also die silently (a network partition): a round trip now and then notices.
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no answer to the heartbeat within 5 s')), 5000).unref(),
      );
      Promise.race([client.query('SELECT 1'), timeout]).catch((error: Error) => markLost(error));
    }, this.options.heartbeatMs ?? 10_000);
    this.heartbeat.unref();
    return { client, lost };
  }

  /** Wait for the connection to be lost, reopen it with backoff, then make local devices re-pull; repeat. */
  private async keepListening(current: { client: pg.Client; lost: Promise<Error> }): Promise<void> {
    const minDelay = this.options.reconnect?.minDelayMs ?? 100;
    const maxDelay = this.options.reconnect?.maxDelayMs ?? 5000;
    const stopped = new Promise<void>((resolve) =>
      this.stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (;;) {
      const reason = await Promise.race([current.lost, stopped]);
      if (this.stopping.signal.aborted) return;
      this.listener = undefined;
      this.local.gap();
      clearInterval(this.heartbeat);
      current.client.end().catch(() => {});
      this.log(`events: the LISTEN connection was lost (${(reason as Error).message}); reconnecting`);
      let delay = minDelay;
      for (;;) {
        await sleep(delay, this.stopping.signal);
        if (this.stopping.signal.aborted) return;
        try {
          current = await this.connect();
          break;
        } catch (error) {
          delay = Math.min(delay * 2, maxDelay);
          this.log(`events: reconnecting failed (${(error as Error).message}); next try in ${delay} ms`);
        }
      }
      if (this.stopping.signal.aborted) {
        await current.client.end().catch(() => {});
        return;
      }
      this.reconnects++;
      this.local.gap();
      this.log(`events: LISTEN connection back; telling ${this.local.connections()} local stream(s) to re-pull`);
      // Events published while the connection was down never reached this node: every device
      // connected here pulls everything again.
      for (const event of RE_PULL_EVENTS) await this.local.broadcast(event);
    }
  }
}
