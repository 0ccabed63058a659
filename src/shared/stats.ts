import {
  FAILING_WEBHOOKS_SHOWN,
  redactUrl,
  statsWindow,
  type ActivityStats,
  type StatsRange,
} from '../protocol/index.ts';

/**
 * Rows of the Overview's aggregate queries, as both runtimes' SQL returns them (PostgreSQL gives
 * sums and bigints as strings, hence the Number() on the way out).
 */
export interface AttemptBucketRow {
  bucket: number | string;
  succeeded: number | string;
  retried: number | string;
  failed: number | string;
  p50: number | string;
  p99: number | string;
}
export interface MessageBucketRow {
  bucket: number | string;
  sent: number | string;
  delivered: number | string;
  failed: number | string;
}
/** Deliveries that entered the queue (were created) and left it (finished) in one bucket. */
export interface QueueMoveRow {
  bucket: number | string;
  entered: number | string;
  finished: number | string;
}
export interface FailingWebhookRow {
  webhook_id: string;
  url: string;
  failures: number | string;
  last_failed_at: number | string;
  last_error: string | null;
}

/** The row of each of the Overview's aggregate queries, by the query's name. */
export interface StatsRow {
  attempts: AttemptBucketRow;
  messages: MessageBucketRow;
  queueMoves: QueueMoveRow;
  failing: FailingWebhookRow;
}

/** What each runtime's stats query is given: whole one-minute buckets up to now. */
export type StatsWindow = ReturnType<typeof statsWindow> & { failingLimit: number };

export function statsWindowFor(range: StatsRange, now: number): StatsWindow {
  return { ...statsWindow(range, now), failingLimit: FAILING_WEBHOOKS_SHOWN };
}

/**
 * An attempts query, from `inWindow`: a select of each attempt's `bucket`, `duration_ms` and
 * `outcome` ('succeeded' | 'retry' | 'failed'). Percentiles by nearest rank, from each attempt's
 * place (`nth`) among the `total` of its bucket, ordered by duration; plain window functions, so
 * SQLite and PostgreSQL run the same text.
 */
export const attemptBucketsSql = (inWindow: string): string =>
  `WITH in_window AS (${inWindow}), ranked AS (
     SELECT bucket, duration_ms, outcome,
            ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY duration_ms) AS nth,
            COUNT(*) OVER (PARTITION BY bucket) AS total
       FROM in_window
   )
   SELECT bucket,
          SUM(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
          SUM(CASE WHEN outcome = 'retry' THEN 1 ELSE 0 END) AS retried,
          SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed,
          MIN(CASE WHEN nth * 100 >= total * 50 THEN duration_ms END) AS p50,
          MIN(CASE WHEN nth * 100 >= total * 99 THEN duration_ms END) AS p99
     FROM ranked GROUP BY bucket ORDER BY bucket`;

/**
 * A messages query, from `reached`: rows of (`state`, `at`), a message reaching a state at a time,
 * those that meet `condition` if given. Counts those in the window by bucket.
 */
export const messageBucketsSql = (reached: string, condition?: string): string =>
  `SELECT at - at % :bucketMs AS bucket,
          SUM(CASE WHEN state = 'Sent' THEN 1 ELSE 0 END) AS sent,
          SUM(CASE WHEN state = 'Delivered' THEN 1 ELSE 0 END) AS delivered,
          SUM(CASE WHEN state = 'Failed' THEN 1 ELSE 0 END) AS failed
     FROM ${reached} WHERE ${condition ? `${condition} AND ` : ''}at >= :since AND at <= :until
    GROUP BY bucket ORDER BY bucket`;

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

/**
 * The queue depth at the end of every bucket of the window, counted back from the depth now: a
 * bucket's depth is the next one's less what entered the queue in the next one, plus what left it.
 * Never below zero.
 */
export function queueDepthSeries(window: StatsWindow, depthNow: number, moves: readonly QueueMoveRow[]) {
  const byBucket = new Map(moves.map((m) => [Number(m.bucket), Number(m.entered) - Number(m.finished)]));
  const last = window.until - (window.until % window.bucketMs);
  const series: { at: string; depth: number }[] = [];
  let depth = Math.max(0, Math.round(depthNow));
  for (let bucket = last; bucket >= window.since; bucket -= window.bucketMs) {
    series.push({ at: iso(bucket), depth });
    depth = Math.max(0, depth - (byBucket.get(bucket) ?? 0));
  }
  return series.reverse();
}

export function assembleStats(
  range: StatsRange,
  window: StatsWindow,
  rows: {
    attempts: readonly AttemptBucketRow[];
    messages: readonly MessageBucketRow[];
    failing: readonly FailingWebhookRow[];
    queueMoves: readonly QueueMoveRow[];
    /** the depth the series is counted back from: the deliveries in the queue now, as this store knows them */
    queueNow: number;
    queueDepth: number;
  },
): ActivityStats {
  return {
    range,
    since: iso(window.since),
    until: iso(window.until),
    bucketSeconds: window.bucketMs / 1000,
    attempts: rows.attempts.map((r) => ({
      at: iso(r.bucket),
      succeeded: Number(r.succeeded),
      retried: Number(r.retried),
      failed: Number(r.failed),
      p50Ms: Number(r.p50),
      p99Ms: Number(r.p99),
    })),
    messages: rows.messages.map((r) => ({
      at: iso(r.bucket),
      sent: Number(r.sent),
      delivered: Number(r.delivered),
      failed: Number(r.failed),
    })),
    queueDepth: Math.round(rows.queueDepth),
    queue: queueDepthSeries(window, rows.queueNow, rows.queueMoves),
    failingWebhooks: rows.failing.map((r) => ({
      webhookId: r.webhook_id,
      url: redactUrl(r.url),
      failures: Number(r.failures),
      lastFailedAt: iso(r.last_failed_at),
      lastError: r.last_error ?? 'failed',
    })),
  };
}
