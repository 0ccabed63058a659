import type { ServerResponse } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { FastifyServerOptions } from 'fastify';
import { deliveryAttemptMetrics } from '../shared/metrics.ts';
import type { AttemptOutcome } from '../protocol/index.ts';
import { appLoggingOptions, createLogger, type Logger } from '../shared/logger.ts';

/** Fastify options of the server's app: pino (default on stderr, SMSGATE_LOG_LEVEL) and request ids. */
export function serverAppOptions(logger?: Logger): FastifyServerOptions {
  return appLoggingOptions(logger ?? createLogger({ name: 'server' }));
}

/**
 * The server's metrics (one prom-client registry per server) and the streams it holds open. Beside
 * its own (streams, HTTP requests), the delivery metrics come from what the devices report: each
 * attempt is counted once, when the server first stores it, and queue depth is each device's latest
 * health report. On several nodes each counts the reports it received (sum them); queue depth is
 * read from the database, so every node shows every device.
 */
export class ServerObservability {
  readonly registry = new Registry();
  /** devices' push streams (GET /mobile/v1/events) */
  readonly deviceStreams = new Set<ServerResponse>();
  /** dashboards' activity streams (GET /3rdparty/v1/events/stream) */
  readonly liveStreams = new Set<ServerResponse>();
  private readonly attempts: ReturnType<typeof deliveryAttemptMetrics>;

  constructor(queueDepthTotals: () => Promise<{ sum: number; max: number }>) {
    const registers = [this.registry];
    const { deviceStreams, liveStreams } = this;
    new Gauge({
      name: 'smsgate_sse_streams',
      help: 'Device event streams (GET /mobile/v1/events) held open',
      registers,
      collect() {
        this.set(deviceStreams.size);
      },
    });
    new Gauge({
      name: 'smsgate_live_streams',
      help: "Dashboards' live activity streams (GET /3rdparty/v1/events/stream) held open",
      registers,
      collect() {
        this.set(liveStreams.size);
      },
    });
    this.attempts = deliveryAttemptMetrics(this.registry, ', as the devices report them');
    // Totals, not one series per device: any user's credentials may read /metrics, and device ids
    // belong to their users (the dashboard shows each user their own devices' depths).
    new Gauge({
      name: 'smsgate_delivery_queue_depth',
      help: "Webhook deliveries waiting or in flight on all devices together, as their latest health reports say; stat: sum, or max (the deepest device's)",
      labelNames: ['stat'],
      registers,
      async collect() {
        let totals: { sum: number; max: number };
        try {
          totals = await queueDepthTotals();
        } catch {
          return; // the database is away: keep the last values rather than fail the scrape
        }
        this.set({ stat: 'sum' }, totals.sum);
        this.set({ stat: 'max' }, totals.max);
      },
    });
  }

  /** Attempts the server stored for the first time (a re-reported attempt never comes here twice). */
  recordReportedAttempts(attempts: readonly { outcome: AttemptOutcome; durationMs: number }[]): void {
    for (const attempt of attempts) this.attempts.observe(attempt.outcome, attempt.durationMs);
  }
}
