import type { Db } from './database.ts';
import { attemptBucketsSql, messageBucketsSql, type StatsRow, type StatsWindow } from '../../shared/stats.ts';

type WindowParams = Omit<StatsWindow, 'failingLimit'>;

/**
 * The Overview's aggregates over the device's own store, in one-minute buckets. An attempt's outcome
 * is read back from its delivery as `storedAttemptOutcome` (dispatch/retry-policy.ts) does: a 2xx
 * succeeded, the last attempt of a failed delivery failed, any other was retried.
 */
export class DeviceStats {
  private readonly statements;

  constructor(db: Db) {
    this.statements = {
      attempts: db.prepare<WindowParams, StatsRow['attempts']>(
        attemptBucketsSql(
          `SELECT a.started_at - a.started_at % :bucketMs AS bucket, a.duration_ms,
                  CASE WHEN a.status BETWEEN 200 AND 299 THEN 'succeeded'
                       WHEN d.state = 'failed' AND a.number = d.attempts THEN 'failed'
                       ELSE 'retry' END AS outcome
             FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq
            WHERE a.started_at >= :since AND a.started_at <= :until
           UNION ALL
           -- a successful attempt is kept on its delivery's row (device migration 0014); it finished
           -- (updated_at) after it started, so the finished index bounds the rows read (SQLite uses a
           -- partial index only when the query repeats its condition, hence the state IN)
           SELECT success_started_at - success_started_at % :bucketMs, success_duration_ms, 'succeeded'
             FROM deliveries
            WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at >= :since
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
      // a delivery enters the queue when created and leaves it when it finishes (its last update)
      queueMoves: db.prepare<WindowParams, StatsRow['queueMoves']>(
        `WITH moves AS (
           SELECT created_at - created_at % :bucketMs AS bucket, 1 AS entered, 0 AS finished
             FROM deliveries WHERE created_at >= :since AND created_at <= :until
           UNION ALL
           SELECT updated_at - updated_at % :bucketMs, 0, 1
             FROM deliveries
            WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at >= :since AND updated_at <= :until
         )
         SELECT bucket, SUM(entered) AS entered, SUM(finished) AS finished FROM moves GROUP BY bucket ORDER BY bucket`,
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
    return {
      attempts: this.statements.attempts.all({ since, until, bucketMs }),
      messages: this.statements.messages.all({ since, until, bucketMs }),
      queueMoves: this.statements.queueMoves.all({ since, until, bucketMs }),
      failing: this.statements.failing.all({ since, until, failingLimit: window.failingLimit }),
    };
  }
}
