import { Counter, Histogram, Registry } from 'prom-client';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { HttpError, type AttemptOutcome } from '../protocol/index.ts';
import type { App } from './http.ts';

export { Registry };

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4.startsWith('127.') || ip === '::1';
}

/**
 * A histogram's observation count per label set, as its `_count` series says. A counter that would
 * count the same events reads this when scraped, so a hot path updates one metric, not two.
 */
export async function histogramCounts<T extends string>(histogram: Histogram<T>): Promise<{ labels: Record<T, string>; value: number }[]> {
  const { name, values } = await histogram.get();
  return values
    .filter((sample) => sample.metricName === `${name}_count`)
    .map((sample) => ({ labels: sample.labels as Record<T, string>, value: sample.value }));
}

/**
 * The delivery metrics: the duration histogram of attempts by outcome, and the counters read from
 * its counts when scraped (one metric update per attempt instead of three). The device feeds it
 * from its own attempts, the server from the attempts its devices report; `whose` says which in
 * the help texts.
 */
export function deliveryAttemptMetrics(registry: Registry, whose: string): { observe(outcome: AttemptOutcome, durationMs: number): void } {
  const registers = [registry];
  const attemptDuration = new Histogram<'outcome'>({
    name: 'smsgate_delivery_attempt_duration_seconds',
    help: `Duration of webhook delivery attempts by outcome (succeeded, retry, failed)${whose}; _count is the number of attempts`,
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const attemptsBy = async (): Promise<Record<AttemptOutcome, number>> => {
    const counts = { succeeded: 0, retry: 0, failed: 0 };
    for (const { labels, value } of await histogramCounts(attemptDuration)) counts[labels.outcome as AttemptOutcome] += value;
    return counts;
  };
  new Counter({
    name: 'smsgate_deliveries_total',
    help: `Deliveries that reached a final outcome: succeeded, or failed with the retry budget spent${whose}`,
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
    help: `Failed attempts that scheduled another try${whose}`,
    registers,
    async collect() {
      const counts = await attemptsBy();
      this.reset();
      this.inc(counts.retry);
    },
  });
  return { observe: (outcome, durationMs) => attemptDuration.observe({ outcome }, durationMs / 1000) };
}

/**
 * The HTTP request metrics every smsgate API exports: a counter and a duration histogram by method,
 * route pattern (never the raw URL, so ids do not explode the label set) and status code.
 */
export function installHttpMetrics(app: App, registry: Registry): void {
  const labelNames = ['method', 'route', 'status_code'] as const;
  const duration = new Histogram({
    name: 'smsgate_http_request_duration_seconds',
    help: 'Time from the request arriving to the response being sent',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Counter({
    name: 'smsgate_http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
    async collect() {
      const counts = await histogramCounts(duration);
      this.reset();
      for (const { labels, value } of counts) this.inc(labels, value);
    },
  });
  app.addHook('onResponse', (request, reply, done) => {
    duration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode }, reply.elapsedTime / 1000);
    done();
  });
}

/**
 * `GET /metrics` in Prometheus text format. A request from a loopback address is served; any other
 * must be authenticated by `authenticate` (which throws 401 on wrong credentials and returns false
 * when none were given), else it gets a 403.
 */
export function metricsRoute(app: App, registry: Registry, authenticate: (request: FastifyRequest) => Promise<boolean>): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics (loopback clients, or authenticated ones)',
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
      },
    },
    async (request, reply) => {
      if (!isLoopback(request.ip) && !(await authenticate(request))) {
        throw new HttpError(403, 'metrics are served to loopback clients only; from elsewhere send the API credentials');
      }
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
}
