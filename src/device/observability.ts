import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptResult, Outbox } from './store/outbox.ts';
import type { DeviceEvents } from './events.ts';
import type { Logger } from '../shared/logger.ts';
import { histogramCounts } from '../shared/metrics.ts';

/** What became of one attempt: done, another try scheduled, or the retry budget spent. */
export type AttemptOutcome = 'succeeded' | 'retry' | 'failed';

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
  private readonly attemptDuration: Histogram<'outcome'>;
  private readonly events: Counter<'event'>;
  private readonly streams: Gauge;
  private readonly attemptListeners = new Set<(notice: AttemptNotice) => void>();

  constructor(
    private readonly deps: { outbox: Outbox; events: DeviceEvents; retryCount: () => number; logger: Logger },
  ) {
    const registers = [this.registry];
    const attemptDuration = (this.attemptDuration = new Histogram({
      name: 'smsgate_delivery_attempt_duration_seconds',
      help: 'Duration of webhook delivery attempts by outcome (succeeded, retry, failed); _count is the number of attempts',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }));
    // Outcomes and scheduled retries are the histogram's counts, read when scraped: one metric
    // update per attempt instead of two.
    const attemptsBy = async (): Promise<Record<AttemptOutcome, number>> => {
      const counts = { succeeded: 0, retry: 0, failed: 0 };
      for (const { labels, value } of await histogramCounts(attemptDuration)) counts[labels.outcome as AttemptOutcome] += value;
      return counts;
    };
    new Counter({
      name: 'smsgate_deliveries_total',
      help: 'Deliveries that reached a final outcome: succeeded, or failed with the retry budget spent',
      labelNames: ['outcome'],
      registers,
      async collect() {
        const counts = await attemptsBy();
        this.reset();
        for (const outcome of ['succeeded', 'failed'] as const) this.inc({ outcome }, counts[outcome]);
      },
    });
    new Counter({
      name: 'smsgate_delivery_retries_scheduled_total',
      help: 'Failed attempts that scheduled another try',
      registers,
      async collect() {
        const counts = await attemptsBy();
        this.reset();
        this.inc(counts.retry);
      },
    });
    this.events = new Counter({ name: 'smsgate_events_total', help: 'Events recorded in the outbox, by event name', labelNames: ['event'], registers });
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
    this.streams = new Gauge({ name: 'smsgate_sse_streams', help: 'Live event streams (GET /events/stream) held open', registers });
    deps.events.onEvent((emitted) => this.events.inc({ event: emitted.event }));
  }

  /** The dispatcher's onAttempt: count, time and log the attempt, then tell the live streams. */
  recordAttempt(result: AttemptResult): void {
    const outcome: AttemptOutcome = result.ok ? 'succeeded' : result.delivery.retriesSoFar + 1 > this.deps.retryCount() ? 'failed' : 'retry';
    this.attemptDuration.observe({ outcome }, result.durationMs / 1000);
    const notice: AttemptNotice = {
      deliveryId: result.delivery.id,
      attempt: result.delivery.attempt,
      outcome,
      status: result.status,
      error: result.error,
      durationMs: result.durationMs,
      url: result.delivery.url,
    };
    this.deps.logger[outcome === 'succeeded' ? 'info' : 'warn'](notice, 'attempt');
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
