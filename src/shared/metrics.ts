import { Counter, Registry, type Metric } from 'prom-client';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { type AttemptOutcome } from '../protocol/index.ts';
import type { App } from './http.ts';
import { ForbiddenError } from './errors.ts';

export { Registry };

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4.startsWith('127.') || ip === '::1';
}

/** One label set's series of a SeriesHistogram, looked up once and kept by whoever observes it. */
export interface HistogramSeries {
  observe(value: number): void;
}

class Series implements HistogramSeries {
  /** observations per bucket (not cumulative); the last slot is above every bound */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly buckets: readonly number[],
  ) {
    this.counts = new Array(buckets.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for hot paths (every API request, every delivery attempt). Its caller
 * looks a label set's series up once and observes into it: a bucket search and three additions,
 * where prom-client's Histogram validates and hashes the labels on every observation (measurable
 * at thousands of requests a second). It registers and exports like any prom-client metric.
 */
export class SeriesHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values (in `labelNames` order), created on first use. */
  seriesOf(...values: string[]): HistogramSeries {
    const key = values.join('\0');
    let series = this.series.get(key);
    if (series === undefined) {
      series = new Series(Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]])), this.buckets);
      this.series.set(key, series);
    }
    return series;
  }

  /** Each series' observation count (what its `_count` sample says). */
  counts(): { labels: Record<L, string>; value: number }[] {
    return [...this.series.values()].map((series) => ({
      labels: series.labels as Record<L, string>,
      value: series.count,
    }));
  }

  /** What a Registry exports: cumulative `_bucket`s with `le`, then `_sum` and `_count`, per series. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: { metricName: string; labels: Record<string, string | number>; value: number }[];
  }> {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...series.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...series.labels }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Registry.resetMetrics(): every series back to zero (the handles stay valid). */
  reset(): void {
    for (const series of this.series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

/**
 * The delivery metrics: the duration histogram of attempts by outcome, and the counters read from
 * its counts when scraped (one metric update per attempt instead of three). The device feeds it
 * from its own attempts, the server from the attempts its devices report; `whose` says which in
 * the help texts.
 */
export function deliveryAttemptMetrics(
  registry: Registry,
  whose: string,
): { observe(outcome: AttemptOutcome, durationMs: number): void } {
  const registers = [registry];
  const attemptDuration = new SeriesHistogram(
    'smsgate_delivery_attempt_duration_seconds',
    `Duration of webhook delivery attempts by outcome (succeeded, retry, failed)${whose}; _count is the number of attempts`,
    ['outcome'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry,
  );
  const byOutcome: Record<AttemptOutcome, HistogramSeries> = {
    succeeded: attemptDuration.seriesOf('succeeded'),
    retry: attemptDuration.seriesOf('retry'),
    failed: attemptDuration.seriesOf('failed'),
  };
  const attemptsBy = (): Record<AttemptOutcome, number> => {
    const counts = { succeeded: 0, retry: 0, failed: 0 };
    for (const { labels, value } of attemptDuration.counts()) counts[labels.outcome as AttemptOutcome] += value;
    return counts;
  };
  new Counter({
    name: 'smsgate_deliveries_total',
    help: `Deliveries that reached a final outcome: succeeded, or failed with the retry budget spent${whose}`,
    labelNames: ['outcome'],
    registers,
    collect() {
      const counts = attemptsBy();
      this.reset();
      for (const outcome of ['succeeded', 'failed'] as const) this.inc({ outcome }, counts[outcome]);
    },
  });
  new Counter({
    name: 'smsgate_delivery_retries_scheduled_total',
    help: `Failed attempts that scheduled another try${whose}`,
    registers,
    collect() {
      const counts = attemptsBy();
      this.reset();
      this.inc(counts.retry);
    },
  });
  return { observe: (outcome, durationMs) => byOutcome[outcome].observe(durationMs / 1000) };
}

/**
 * The HTTP request metrics every smsgate API exports: a duration histogram by method, route pattern
 * (never the raw URL, so ids do not explode the label set) and status code, and the request counter
 * read from its counts when scraped. Returns what records one answered request.
 */
export function httpRequestMetrics(
  registry: Registry,
): (method: string, route: string, status: number, seconds: number) => void {
  const labelNames = ['method', 'route', 'status_code'] as const;
  const duration = new SeriesHistogram(
    'smsgate_http_request_duration_seconds',
    'Time from the request arriving to the response being sent',
    labelNames,
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registry,
  );
  new Counter({
    name: 'smsgate_http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, value } of duration.counts()) this.inc(labels, value);
    },
  });
  // route → method → status → its series: three lookups and no key built per request (routes,
  // methods and statuses are each a small, fixed set)
  const byRoute = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  return (method, route, status, seconds) => {
    let byMethod = byRoute.get(route);
    if (byMethod === undefined) byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) byStatus.set(status, (series = duration.seriesOf(method, route, String(status))));
    series.observe(seconds);
  };
}

/**
 * `GET /metrics` in Prometheus text format. A request from a loopback address is served; any other
 * must be authenticated by `authenticate` (which throws 401 on wrong credentials and returns false
 * when none were given), else it gets a 403.
 */
export function metricsRoute(
  app: App,
  registry: Registry,
  authenticate: (request: FastifyRequest) => Promise<boolean>,
): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics (loopback clients, or authenticated ones)',
        operationId: 'getMetrics',
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
      },
    },
    async (request, reply) => {
      if (!isLoopback(request.ip) && !(await authenticate(request))) {
        throw new ForbiddenError(
          'metrics are served to loopback clients only; from elsewhere send the API credentials',
        );
      }
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
}
