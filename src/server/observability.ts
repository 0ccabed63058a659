import type { ServerResponse } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { FastifyServerOptions } from 'fastify';
import type { App } from '../shared/http.ts';
import type { ServerContext } from './context.ts';
import { registerOpenApi } from '../shared/openapi.ts';
import { deliveryAttemptMetrics, metricsRoute } from '../shared/metrics.ts';
import { installRequestTelemetry } from '../shared/request-telemetry.ts';
import type { AttemptOutcome } from '../protocol/index.ts';
import { appLoggingOptions, createLogger, type Logger } from '../shared/logger.ts';
import { webUiRoutes } from '../shared/dashboard.ts';
import { optionalUser, requireUser } from './api/auth.ts';
import { THIRD_PARTY_PREFIXES } from './api/3rdparty.ts';
import { MOBILE_PREFIXES } from './api/mobile.ts';

/** Fastify options of the server's app: pino (default on stderr, SMSGATE_LOG_LEVEL) and request ids. */
export function serverAppOptions(logger?: Logger): FastifyServerOptions {
  return appLoggingOptions(logger ?? createLogger({ name: 'server' }));
}

const audienceOf = (url: string): '3rdparty' | 'mobile' | undefined =>
  THIRD_PARTY_PREFIXES.some((p) => url.startsWith(`${p}/`))
    ? '3rdparty'
    : MOBILE_PREFIXES.some((p) => url.startsWith(`${p}/`))
      ? 'mobile'
      : undefined;

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

/**
 * What the server serves beside its APIs, registered before them: one OpenAPI document for both
 * audiences (every route tagged `3rdparty` or `mobile`) at `/docs/openapi.json` with Swagger UI at
 * `/docs` (public), `/metrics` (loopback, or a user's Basic auth), a log line per request, and the
 * web dashboard at `/` (a user's Basic auth, like the 3rdparty API it calls).
 */
export function installObservability(app: App, ctx: ServerContext): void {
  const registry = ctx.observability.registry;
  installRequestTelemetry(app, registry);
  registerOpenApi(app, {
    title: 'smsgate server: 3rdparty and mobile APIs',
    description:
      'One document for both audiences: routes tagged `3rdparty` are for integrators (HTTP Basic auth with a user), routes tagged `mobile` are for devices (Bearer token). Each API is served under two prefixes, as in the original.',
    tags: [
      { name: '3rdparty', description: 'the integrators’ API (/3rdparty/v1, /api/3rdparty/v1)' },
      { name: 'mobile', description: 'the devices’ API (/mobile/v1, /api/mobile/v1)' },
      { name: 'health', description: 'without credentials' },
    ],
    securitySchemes: {
      basicAuth: { type: 'http', scheme: 'basic', description: "a user's login and password" },
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: "the device's token (registration: the private token, or a user's Basic auth)",
      },
    },
    extraTagsOf: (url) => {
      const audience = audienceOf(url);
      return audience ? [audience] : [];
    },
    securityOf: (url): Record<string, string[]>[] | undefined => {
      if (/\/health(\/|$)/.test(url)) return undefined;
      const audience = audienceOf(url);
      if (audience === '3rdparty') return [{ basicAuth: [] }];
      if (audience === 'mobile')
        return /\/device$/.test(url) ? [{ bearerAuth: [] }, { basicAuth: [] }] : [{ bearerAuth: [] }];
      return undefined;
    },
  });
  app.register(async (scope) => {
    metricsRoute(scope, registry, async (request) => (await optionalUser(ctx, request)) !== undefined);
    scope.register(async (authed) => {
      authed.addHook('onRequest', requireUser(ctx));
      webUiRoutes(authed, { mode: 'server' });
    });
  });
}
