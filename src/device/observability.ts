import { Counter, Gauge, Registry } from 'prom-client';
import type { AttemptResult, Outbox } from './store/outbox.ts';
import type { DeviceEvents } from './events.ts';
import { hotLogLine, type Logger } from '../shared/logger.ts';
import { deliveryAttemptMetrics } from '../shared/metrics.ts';
import { redactUrl, type AttemptOutcome } from '../protocol/index.ts';

export type { AttemptOutcome };

export interface AttemptNotice {
  deliveryId: string;
  attempt: number;
  outcome: AttemptOutcome;
  status: number | null;
  error: string | null;
  durationMs: number;
  url: string;
}

/**
 * The device's metrics (prom-client, one registry per device), its attempt log lines and the feed
 * of finished attempts the dashboard's live stream shows. Fed by the dispatcher's `onAttempt`.
 */
export class DeviceObservability {
  readonly registry = new Registry();
  private readonly attempts: ReturnType<typeof deliveryAttemptMetrics>;
  private readonly events: Counter<'event'>;
  private readonly streams: Gauge;
  private readonly attemptListeners = new Set<(notice: AttemptNotice) => void>();
  private readonly logLine: ReturnType<typeof hotLogLine>;

  constructor(private readonly deps: { outbox: Outbox; events: DeviceEvents; logger: Logger }) {
    const registers = [this.registry];
    this.logLine = hotLogLine(deps.logger);
    this.attempts = deliveryAttemptMetrics(this.registry, '');
    this.events = new Counter({
      name: 'smsgate_events_total',
      help: 'Events recorded in the outbox, by event name',
      labelNames: ['event'],
      registers,
    });
    const outbox = deps.outbox;
    new Gauge({
      name: 'smsgate_delivery_queue_depth',
      help: 'Deliveries by state: pending (queued or waiting for a retry), sending (in flight), failed',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = outbox.countByState();
        for (const state of ['pending', 'sending', 'failed'] as const) this.set({ state }, counts[state]);
      },
    });
    this.streams = new Gauge({
      name: 'smsgate_sse_streams',
      help: 'Live event streams (GET /events/stream) held open',
      registers,
    });
    deps.events.onEvent((emitted) => this.events.inc({ event: emitted.event }));
  }

  /** The dispatcher's onAttempt: count, time and log the attempt, then tell the live streams. */
  recordAttempt(result: AttemptResult, outcome: AttemptOutcome): void {
    this.attempts.observe(outcome, result.durationMs);
    const notice: AttemptNotice = {
      deliveryId: result.delivery.id,
      attempt: result.delivery.attempt,
      outcome,
      status: result.status,
      error: result.error,
      durationMs: result.durationMs,
      url: redactUrl(result.delivery.url),
    };
    this.logLine(
      this.deps.logger,
      outcome === 'succeeded' ? 'info' : 'warn',
      notice as unknown as Record<string, unknown>,
      'attempt',
    );
    for (const listener of this.attemptListeners) listener(notice);
  }

  onAttempt(listener: (notice: AttemptNotice) => void): () => void {
    this.attemptListeners.add(listener);
    return () => this.attemptListeners.delete(listener);
  }

  streamOpened(): void {
    this.streams.inc();
  }

  streamClosed(): void {
    this.streams.dec();
  }
}
