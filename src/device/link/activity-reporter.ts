import type { AttemptRow, DeliveryRow, Outbox } from '../store/outbox.ts';
import type { WebhookStore } from '../store/webhooks.ts';
import type { EmittedEvent } from '../events.ts';
import type { AttemptNotice } from '../observability.ts';
import type { Clock } from '../../shared/clock.ts';
import {
  ACTIVITY_LIMITS,
  deliveryView,
  type ActivityReport,
  type ActivityReportAnswer,
  type AttemptOutcome,
  type ReportedAttempt,
  type ReportedDelivery,
  type ReportedEvent,
} from '../../protocol/index.ts';
import { MobileApiError } from './mobile-client.ts';
import { storedAttemptOutcome } from '../dispatch/retry-policy.ts';

/** At most one report per this long, and only when something changed. */
const REPORT_INTERVAL_MS = 500;
/** After failed reports the next waits longer, doubling up to this. */
const MAX_BACKOFF_MS = 30_000;
/**
 * Deliveries remembered as changed while reports cannot get through; past this the oldest are
 * forgotten (the server's copy of those stays behind until they change again).
 */
const MAX_CHANGED_DELIVERIES = 10_000;
/** Events waiting to be reported, likewise (the oldest go first). */
const MAX_WAITING_EVENTS = 1_000;
/** A report stops taking deliveries past about this many bytes of JSON, well within the server's 1 MiB body limit. */
const REPORT_BUDGET_BYTES = 512 * 1024;
/**
 * After each (re)connect the newest deliveries are reported again: the server's copy catches up
 * with what changed while the device was not running or a report was lost.
 */
const RESYNC_DELIVERIES = 100;

export interface ActivityReporterOptions {
  outbox: Pick<Outbox, 'listDeliveries' | 'getDelivery'>;
  webhooks: Pick<WebhookStore, 'list'>;
  clock: Clock;
  /** POST /mobile/v1/device/activity: what the server left out, if anything */
  send(report: ActivityReport): Promise<ActivityReportAnswer | undefined | void>;
  log(line: string): void;
  /** default 500 ms */
  intervalMs?: number;
}

/**
 * Tells the server what the device's webhooks did, so the server's dashboard and metrics can show
 * it: the events recorded, the deliveries that changed (as they are when the report is sent, with
 * their latest attempts) and the Local webhook list. The device stays the source of truth: a lost
 * report costs the server's copy some freshness, never a delivery.
 *
 * On the dispatcher's path (`noteAttempt`) it only remembers the delivery's id, O(1); the row and
 * its attempt log are read from the outbox when the report is built, so a late report always
 * carries the latest state. Reports go out at most every 500 ms while there is something to say,
 * one at a time, except that a full report is followed at once by the next (a backlog drains at
 * the server's pace); after failures the wait grows.
 */
export class ActivityReporter {
  /** delivery id → its latest attempt noticed (its outcome is exact), or null */
  private readonly changed = new Map<string, AttemptNotice | null>();
  private events: ReportedEvent[] = [];
  private webhooksChanged = false;
  private running = false;
  private timer: unknown;
  private sending: Promise<void> | undefined;
  private failures = 0;
  private notBefore = 0;
  private forgetting = false;
  private droppingEvents = false;
  /** deliveries whose latest attempt was not in the log yet when a report was built: waited for once */
  private readonly waitedFor = new Set<string>();
  private readonly intervalMs: number;

  constructor(private readonly options: ActivityReporterOptions) {
    this.intervalMs = options.intervalMs ?? REPORT_INTERVAL_MS;
  }

  /** Start reporting (the device is linked). */
  start(): void {
    this.running = true;
    this.resync();
  }

  /**
   * After a (re)connect: send the Local webhook list and the newest deliveries again, and try at
   * once rather than after a backoff meant for a server that was away.
   */
  resync(): void {
    this.webhooksChanged = true;
    for (const row of this.options.outbox.listDeliveries({ limit: RESYNC_DELIVERIES })) this.rememberDelivery(row.id);
    this.failures = 0;
    this.notBefore = 0;
    if (this.timer !== undefined) {
      this.options.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.sending;
  }

  /** A finished attempt (the dispatcher's path): remember the delivery, nothing more. */
  noteAttempt(notice: AttemptNotice): void {
    this.remember(notice.deliveryId, notice);
    this.schedule();
  }

  /** An event was recorded: report it, and its new deliveries. */
  noteEvent(emitted: EmittedEvent): void {
    if (this.events.length >= MAX_WAITING_EVENTS) {
      this.events.shift();
      if (!this.droppingEvents) {
        this.droppingEvents = true;
        this.options.log(`more than ${MAX_WAITING_EVENTS} events wait to be reported; the oldest are not reported`);
      }
    }
    this.events.push(summarize(emitted));
    for (const id of emitted.deliveryIds) this.rememberDelivery(id);
    this.schedule();
  }

  /** A delivery changed without an attempt (e.g. it was queued again). */
  noteDelivery(id: string): void {
    this.rememberDelivery(id);
    this.schedule();
  }

  /** The Local webhook list changed: the next report carries it whole. */
  noteLocalWebhooksChanged(): void {
    this.webhooksChanged = true;
    this.schedule();
  }

  private rememberDelivery(id: string): void {
    if (!this.changed.has(id)) this.remember(id, null);
  }

  private remember(id: string, notice: AttemptNotice | null): void {
    if (!this.changed.has(id) && this.changed.size >= MAX_CHANGED_DELIVERIES) {
      const oldest = this.changed.keys().next().value!;
      this.changed.delete(oldest);
      this.waitedFor.delete(oldest);
      if (!this.forgetting) {
        this.forgetting = true;
        this.options.log(
          `more than ${MAX_CHANGED_DELIVERIES} deliveries changed since the last report that got through; the oldest changes are not reported`,
        );
      }
    }
    this.changed.set(id, notice);
  }

  private get hasWork(): boolean {
    return this.changed.size > 0 || this.events.length > 0 || this.webhooksChanged;
  }

  private schedule(): void {
    if (!this.running || this.timer !== undefined || this.sending || !this.hasWork) return;
    const { clock } = this.options;
    this.timer = clock.setTimeout(
      () => {
        this.timer = undefined;
        this.flush();
      },
      Math.max(0, this.notBefore - clock.now()),
    );
  }

  private flush(): void {
    if (!this.running || this.sending) return;
    const { clock } = this.options;
    const batch = this.take();
    if (!batch) {
      // every delivery taken was still being recorded: look again shortly
      this.notBefore = clock.now() + 50;
      this.schedule();
      return;
    }
    this.sending = this.options
      .send(batch.report)
      .then(
        (answer) => {
          // Items the server could not take are not sent again (they would be refused again); the
          // rest of the report went through.
          const refused = answer?.refused ?? [];
          if (refused.length > 0) {
            const named = refused
              .slice(0, 3)
              .map(
                (item) => `${item.list}[${item.index}]${item.id !== null ? ` (id "${item.id}")` : ''}: ${item.message}`,
              );
            this.options.log(
              `the server left ${refused.length} item(s) out of an activity report and took the rest: ${named.join('; ')}`,
            );
          }
          this.failures = 0;
          this.forgetting = false;
          this.droppingEvents = false;
          // A report that was full leaves a backlog: the next goes as soon as this one is through
          // (one at a time, so the server sets the pace), not after the usual pause.
          this.notBefore = batch.full ? clock.now() : clock.now() + this.intervalMs;
        },
        (error: Error) => {
          if (error instanceof MobileApiError && error.kind === 'rejected') {
            // The server refuses this report as it is; sending it again would be refused again.
            this.options.log(`activity report refused (${error.message}); dropped`);
            this.notBefore = clock.now() + this.intervalMs;
            return;
          }
          this.putBack(batch);
          const delay = Math.min(MAX_BACKOFF_MS, this.intervalMs * 2 ** this.failures++);
          this.notBefore = clock.now() + delay;
          this.options.log(`activity report failed (${error.message}); next try in ${delay} ms`);
        },
      )
      .finally(() => {
        this.sending = undefined;
        this.schedule();
      });
  }

  /** Take what the next report says; undefined when there is nothing to send yet. */
  private take():
    | {
        report: ActivityReport;
        deliveries: [string, AttemptNotice | null][];
        events: ReportedEvent[];
        webhooks: boolean;
        full: boolean;
      }
    | undefined {
    const report: ActivityReport = {};
    const events = this.events.splice(0, ACTIVITY_LIMITS.events);
    if (events.length > 0) report.events = events;
    const webhooks = this.webhooksChanged;
    if (webhooks) {
      this.webhooksChanged = false;
      report.webhooks = this.options.webhooks
        .list('Local')
        .slice(0, ACTIVITY_LIMITS.webhooks)
        .map((hook) => ({ id: hook.id, url: hook.url, event: hook.event, deviceId: hook.deviceId }));
    }
    const taken: [string, AttemptNotice | null][] = [];
    const waiting: [string, AttemptNotice][] = [];
    let full = events.length === ACTIVITY_LIMITS.events;
    const deliveries: ReportedDelivery[] = [];
    let bytes = 0;
    for (const [id, notice] of this.changed) {
      if (deliveries.length >= ACTIVITY_LIMITS.deliveries || bytes >= REPORT_BUDGET_BYTES) {
        full = true;
        break;
      }
      this.changed.delete(id);
      const row = this.options.outbox.getDelivery(id);
      if (!row) continue;
      const lastLogged = row.attemptLog.length > 0 ? row.attemptLog[row.attemptLog.length - 1].number : 0;
      if (notice && notice.attempt > lastLogged && !this.waitedFor.has(id)) {
        // The dispatcher records finished attempts right after telling us: this one is not in the
        // log yet. Wait for it once (keeping the exact outcome) rather than report the older state.
        waiting.push([id, notice]);
        continue;
      }
      this.waitedFor.delete(id);
      const reported = toReportedDelivery(row, notice);
      bytes += JSON.stringify(reported).length;
      deliveries.push(reported);
      taken.push([id, notice]);
    }
    for (const [id, notice] of waiting) {
      this.waitedFor.add(id);
      if (!this.changed.has(id)) this.remember(id, notice);
    }
    if (deliveries.length > 0) report.deliveries = deliveries;
    if (!report.events && !report.webhooks && !report.deliveries) return undefined;
    return { report, deliveries: taken, events, webhooks, full };
  }

  /** A report that did not get through: what it said is said again in the next one. */
  private putBack(batch: NonNullable<ReturnType<ActivityReporter['take']>>): void {
    this.events = [...batch.events, ...this.events].slice(-MAX_WAITING_EVENTS);
    if (batch.webhooks) this.webhooksChanged = true;
    for (const [id, notice] of batch.deliveries) if (!this.changed.has(id)) this.remember(id, notice);
  }
}

const clip = (text: string | null, max: number): string | null =>
  text === null || text.length <= max ? text : text.slice(0, max);

/** The fields of an event's payload the live view shows, bounded. */
function summarize(emitted: EmittedEvent): ReportedEvent {
  const payload = (emitted.payload ?? {}) as Record<string, unknown>;
  const summary: ReportedEvent['summary'] = {};
  if (typeof payload.messageId === 'string') summary.messageId = payload.messageId.slice(0, 64);
  if (typeof payload.phoneNumber === 'string') summary.phoneNumber = payload.phoneNumber.slice(0, 64);
  if (typeof payload.message === 'string') summary.message = payload.message.slice(0, ACTIVITY_LIMITS.messageChars);
  return {
    id: emitted.eventId,
    event: emitted.event,
    createdAt: emitted.at,
    deliveries: emitted.deliveryIds.length,
    summary,
  };
}

/**
 * A delivery as stored. An attempt in flight (the outbox shows the row as "sending", its attempt
 * already counted) is left out: it is reported once it has finished, so the copy never keeps a
 * "sending" that a stop or crash would leave behind.
 */
function toReportedDelivery(
  row: DeliveryRow & { attemptLog: AttemptRow[] },
  notice: AttemptNotice | null,
): ReportedDelivery {
  const stored = row.state === 'sending' ? { ...row, state: 'pending' as const, attempts: row.attempts - 1 } : row;
  // The notice says what became of the attempt it is about; older ones are read back from the row.
  const outcomeOf = (attempt: AttemptRow): AttemptOutcome =>
    notice?.attempt === attempt.number ? notice.outcome : storedAttemptOutcome(attempt, stored);
  const view = deliveryView(stored, Math.round);
  return {
    ...view,
    state: view.state as ReportedDelivery['state'],
    lastError: clip(row.lastError, ACTIVITY_LIMITS.errorChars),
    attemptLog: row.attemptLog.slice(-ACTIVITY_LIMITS.attemptsPerDelivery).map((attempt): ReportedAttempt => ({
      number: attempt.number,
      startedAt: Math.round(attempt.startedAt),
      durationMs: Math.round(attempt.durationMs),
      status: attempt.status,
      error: clip(attempt.error, ACTIVITY_LIMITS.errorChars),
      responsePreview: clip(attempt.responsePreview, ACTIVITY_LIMITS.responsePreviewChars),
      outcome: outcomeOf(attempt),
    })),
  };
}
