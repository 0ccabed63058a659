import type { Db } from './database.ts';
import { attemptBucketsSql, messageBucketsSql, type StatsRow, type StatsWindow } from '../../shared/stats.ts';

type WindowParams = Omit<StatsWindow, 'failingLimit'>;
/** The window, and where in seq the deliveries created since it, or since LATE_FINISH_MS before it, start. */
type DeliveryWindowParams = WindowParams & { createdFrom: number; lateFrom: number };

/**
 * A delivery that took longer than this from creation to its end is indexed by when it finished
 * (`deliveries_finished_late`, device migration 0018, whose condition FINISHED_LATE repeats word for
 * word: SQLite uses a partial index only for a query that states its condition). Any other delivery that
 * finished in a window was created at most this long before the window, in a range of seq.
 */
const LATE_FINISH_MS = 600_000;
/** succeeded, failed or cancelled; not a list of three, which SQLite would build a b-tree of (migration 0018) */
const FINISHED = `state NOT IN ('pending', 'sending')`;
const FINISHED_LATE = `${FINISHED} AND updated_at - created_at > ${LATE_FINISH_MS}`;

/**
 * The Overview's aggregates over the device's own store, in one-minute buckets. An attempt's outcome
 * is read back from its delivery as `storedAttemptOutcome` (dispatch/retry-policy.ts) does: a 2xx
 * succeeded, the last attempt of a failed delivery failed, any other was retried.
 */
export class DeviceStats {
  private readonly statements;

  constructor(db: Db) {
    this.statements = {
      attempts: db.prepare<DeliveryWindowParams, StatsRow['attempts']>(
        attemptBucketsSql(
          `SELECT a.started_at - a.started_at % :bucketMs AS bucket, a.duration_ms,
                  CASE WHEN a.status BETWEEN 200 AND 299 THEN 'succeeded'
                       WHEN d.state = 'failed' AND a.number = d.attempts THEN 'failed'
                       ELSE 'retry' END AS outcome
             FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq
            WHERE a.started_at >= :since AND a.started_at <= :until
           UNION ALL
           -- a successful attempt is kept on its delivery's row (device migration 0014); the delivery
           -- finished (updated_at) after the attempt started, so one created before :lateFrom whose
           -- success started in the window finished late
           SELECT success_started_at - success_started_at % :bucketMs, success_duration_ms, 'succeeded'
             FROM deliveries
            WHERE seq >= :lateFrom AND state = 'succeeded' AND success_started_at >= :since AND success_started_at <= :until
           UNION ALL
           SELECT success_started_at - success_started_at % :bucketMs, success_duration_ms, 'succeeded'
             FROM deliveries
            WHERE seq < :lateFrom AND ${FINISHED_LATE} AND updated_at >= :since
              AND state = 'succeeded' AND success_started_at >= :since AND success_started_at <= :until`,
        ),
      ),
      // states holds when the message reached each state; one changed in the window was updated in it
      // (read once per message: each row's JSON is parsed once, its three times kept)
      messages: db.prepare<WindowParams, StatsRow['messages']>(
        `WITH recent AS MATERIALIZED (
           SELECT json_extract(states, '$.Sent') AS sent_at, json_extract(states, '$.Delivered') AS delivered_at,
                  json_extract(states, '$.Failed') AS failed_at
             FROM messages WHERE updated_at >= :since
         ), reached AS (
           SELECT 'Sent' AS state, sent_at AS at FROM recent
           UNION ALL SELECT 'Delivered', delivered_at FROM recent
           UNION ALL SELECT 'Failed', failed_at FROM recent
         )
         ${messageBucketsSql('reached')}`,
      ),
      // a delivery enters the queue when created and leaves it when it finishes (its last update):
      // those created since :lateFrom are a range of seq, earlier ones that finished in the window
      // took longer than LATE_FINISH_MS
      queueMoves: db.prepare<DeliveryWindowParams, StatsRow['queueMoves']>(
        `WITH moves AS (
           SELECT created_at - created_at % :bucketMs AS bucket, 1 AS entered, 0 AS finished
             FROM deliveries WHERE seq >= :createdFrom AND created_at >= :since AND created_at <= :until
           UNION ALL
           SELECT updated_at - updated_at % :bucketMs, 0, 1
             FROM deliveries WHERE seq >= :lateFrom AND ${FINISHED} AND updated_at >= :since AND updated_at <= :until
           UNION ALL
           SELECT updated_at - updated_at % :bucketMs, 0, 1
             FROM deliveries
            WHERE seq < :lateFrom AND ${FINISHED_LATE} AND updated_at >= :since AND updated_at <= :until
         )
         SELECT bucket, SUM(entered) AS entered, SUM(finished) AS finished FROM moves GROUP BY bucket ORDER BY bucket`,
      ),
      // two subqueries: SQLite reads min() or max() of the key from one end only when each is alone
      seqRange: db.prepare<[], { first: number | null; last: number | null }>(
        `SELECT (SELECT min(seq) FROM deliveries) AS first, (SELECT max(seq) FROM deliveries) AS last`,
      ),
      firstAtOrAfter: db.prepare<{ seq: number }, { seq: number; createdAt: number }>(
        `SELECT seq, created_at AS createdAt FROM deliveries WHERE seq >= :seq ORDER BY seq LIMIT 1`,
      ),
      failing: db.prepare<Omit<StatsWindow, 'bucketMs'>, StatsRow['failing']>(
        `WITH failing AS (
           SELECT d.webhook_id, d.url, a.started_at, COALESCE(a.error, 'HTTP ' || a.status) AS error,
                  ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY a.started_at DESC, a.seq DESC) AS recency,
                  COUNT(*) OVER (PARTITION BY d.webhook_id) AS failures
             FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq
            WHERE a.started_at >= :since AND a.started_at <= :until
              AND (a.status IS NULL OR a.status NOT BETWEEN 200 AND 299)
         )
         SELECT webhook_id, url, failures, started_at AS last_failed_at, error AS last_error
           FROM failing WHERE recency = 1
          ORDER BY failures DESC, last_failed_at DESC LIMIT :failingLimit`,
      ),
    };
  }

  read(window: StatsWindow) {
    const { since, until, bucketMs } = window;
    const seqRange = this.statements.seqRange.get()!;
    const deliveries = {
      since,
      until,
      bucketMs,
      createdFrom: this.firstSeqCreatedSince(since, seqRange),
      lateFrom: this.firstSeqCreatedSince(since - LATE_FINISH_MS, seqRange),
    };
    return {
      attempts: this.statements.attempts.all(deliveries),
      messages: this.statements.messages.all({ since, until, bucketMs }),
      queueMoves: this.statements.queueMoves.all(deliveries),
      failing: this.statements.failing.all({ since, until, failingLimit: window.failingLimit }),
    };
  }

  /**
   * The first seq of the deliveries created at `at` or later, by a binary search over the primary
   * key: seq follows creation, as the retention purge also relies on (a clock set back would
   * misplace only the deliveries created around the step). About 20 lookups for a million rows,
   * where walking from either end would read every row outside the window. `first` and `last`:
   * the lowest and highest seq kept, read once per view.
   */
  private firstSeqCreatedSince(at: number, { first, last }: { first: number | null; last: number | null }): number {
    const { firstAtOrAfter } = this.statements;
    if (first === null || last === null) return 0;
    // the answer is in [low, high]: high = last + 1 when every delivery was created before `at`
    let low = first;
    let high = last + 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      // a row exists at or after middle, since middle <= last; seq may have gaps
      const row = firstAtOrAfter.get({ seq: middle })!;
      if (row.createdAt >= at) high = middle;
      else low = row.seq + 1;
    }
    return low;
  }
}
