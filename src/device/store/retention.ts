import type { Clock } from '../../shared/clock.ts';
import type { Db } from './database.ts';
import type { DeviceLog } from './logs.ts';
import type { MessageStore } from './messages.ts';
import { DAY_MS, PURGE_BATCH as BATCH, PURGE_EVERY_MS, purgeInBatches } from '../../shared/retention.ts';

/** However much the device's time is sped up, the purge runs at most once a second. */
const PURGE_AT_MOST_EVERY_MS = 1_000;

export interface RetentionDays {
  /** finished deliveries and their attempts */
  webhookLog: number;
  /** messages in a final state, and received ones; null keeps them */
  messages: number | null;
  /** the device's own log (`logs.lifetime_days`) */
  logs: number;
}

export interface PurgeCounts {
  deliveries: number;
  attempts: number;
  messages: number;
  /** received messages (the inbox) with their attachments */
  received: number;
}

/**
 * Removes what has outlived its retention, so that a device running for a year does not grow for
 * a year: finished deliveries with their attempts (`webhooks.log_lifetime_days`), messages in a
 * final state and received ones (`messages.log_lifetime_days`), and the device's own log
 * (`logs.lifetime_days`, and never more than `LOGS_KEPT` entries).
 *
 * It runs off the hot path: every minute, in transactions of at most PURGE_BATCH (25) rows, resting
 * between them so that it takes at most PURGE_TIME_SHARE (a tenth) of the event loop while it runs.
 * Pending deliveries are never touched, however old. SQLite puts the freed pages on its free list
 * and the next inserts reuse them, so the file stops growing at its high-water mark (no VACUUM,
 * which would rewrite the whole file while holding the write lock; see docs/reliability.md).
 */
export class RetentionPurger {
  private timer: unknown = null;
  private running: Promise<PurgeCounts> | null = null;
  private readonly statements;

  constructor(
    private readonly options: {
      db: Db;
      clock: Clock;
      retention: () => RetentionDays;
      /** the sent messages, which their store deletes */
      messages: Pick<MessageStore, 'purgeFinished'>;
      /** the device's own log, purged by age and count */
      log?: DeviceLog;
      /** device time per real time: 0.01 runs every timer, and counts every day, 100 times faster */
      timeScale: number;
      /** a purge that failed (the disk full, say): it is tried again at the next run */
      onError: (error: unknown) => void;
    },
  ) {
    const { db } = options;
    this.statements = {
      // Deliveries are numbered in creation order, so no row created after the cutoff can be
      // finished before it: the scan for expired rows stops at the first row created since.
      // NOT INDEXED: walked from the oldest row, it passes only what is left to purge; through an
      // index on created_at, were one added, it would sort every row created since the cutoff.
      firstSeqCreatedSince: db.prepare<{ cutoff: number }, { seq: number }>(
        `SELECT seq FROM deliveries NOT INDEXED WHERE created_at >= :cutoff ORDER BY seq LIMIT 1`,
      ),
      // A batch is the seq range of the next BATCH expired deliveries; each statement below deletes
      // within that range and repeats the guard, so a row in it that is pending, or finished since
      // the cutoff, stays. A batch's statements run once, not once a row: a batch of 25 (then with four
      // statements) blocked the event loop 0.64 ms at the median under load, not 0.92 (BENCHMARKS.md,
      // Results, 2026-12-04 19:48).
      expiredRange: db.prepare<
        { cutoff: number; below: number; limit: number },
        { first: number | null; last: number | null; count: number }
      >(
        `SELECT min(seq) AS first, max(seq) AS last, count(*) AS count FROM (
           SELECT seq FROM deliveries
            WHERE seq < :below AND state IN ('succeeded', 'failed', 'cancelled') AND updated_at < :cutoff
            ORDER BY seq LIMIT :limit)`,
      ),
      deleteAttemptsInRange: db.prepare<{ first: number; last: number; cutoff: number }>(
        `DELETE FROM attempts WHERE delivery_seq BETWEEN :first AND :last AND delivery_seq IN (
           SELECT seq FROM deliveries
            WHERE seq BETWEEN :first AND :last AND state IN ('succeeded', 'failed', 'cancelled') AND updated_at < :cutoff)`,
      ),
      // a successful attempt kept on the row (device migration 0014) goes with it, and counts as an attempt
      deleteDeliveriesInRange: db.prepare<{ first: number; last: number; cutoff: number }, { successOnRow: number }>(
        `DELETE FROM deliveries
          WHERE seq BETWEEN :first AND :last AND state IN ('succeeded', 'failed', 'cancelled') AND updated_at < :cutoff
         RETURNING success_started_at IS NOT NULL AS successOnRow`,
      ),
      // received messages, oldest first, with their attachments: the same BATCH rows in both statements
      deleteExpiredAttachments: db.prepare<{ cutoff: number; limit: number }>(
        `DELETE FROM inbox_attachments WHERE inbox_seq IN (
           SELECT seq FROM inbox WHERE received_at < :cutoff ORDER BY received_at, seq LIMIT :limit)`,
      ),
      deleteExpiredInbox: db.prepare<{ cutoff: number; limit: number }>(
        `DELETE FROM inbox WHERE seq IN (
           SELECT seq FROM inbox WHERE received_at < :cutoff ORDER BY received_at, seq LIMIT :limit)`,
      ),
    };
  }

  start(): void {
    this.arm();
  }

  stop(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.timer = this.options.clock.setTimeout(
      () => {
        this.timer = null;
        this.purge()
          .catch(this.options.onError)
          .finally(() => {
            if (this.options.db.open) this.arm();
          });
      },
      Math.max(PURGE_AT_MOST_EVERY_MS, PURGE_EVERY_MS * this.options.timeScale),
    );
  }

  /** One purge of everything expired, batch by batch. Concurrent calls share the run under way. */
  purge(): Promise<PurgeCounts> {
    this.running ??= this.purgeAll().finally(() => (this.running = null));
    return this.running;
  }

  private async purgeAll(): Promise<PurgeCounts> {
    const counts: PurgeCounts = { deliveries: 0, attempts: 0, messages: 0, received: 0 };
    const { db, clock, timeScale } = this.options;
    const retention = this.options.retention();
    const now = clock.now();
    const logCutoff = now - retention.webhookLog * DAY_MS * timeScale;
    const below = this.statements.firstSeqCreatedSince.get({ cutoff: logCutoff })?.seq ?? Number.MAX_SAFE_INTEGER;

    const deliveryBatch = db.transaction(() => {
      const { first, last, count } = this.statements.expiredRange.get({ cutoff: logCutoff, below, limit: BATCH })!;
      if (first === null || last === null) return 0;
      const range = { first, last, cutoff: logCutoff };
      counts.attempts += this.statements.deleteAttemptsInRange.run(range).changes;
      for (const { successOnRow } of this.statements.deleteDeliveriesInRange.all(range)) {
        counts.deliveries++;
        counts.attempts += successOnRow;
      }
      return count;
    });
    const stillOpen = () => db.open;
    await purgeInBatches(deliveryBatch, stillOpen);

    if (retention.messages !== null) {
      const messageCutoff = now - retention.messages * DAY_MS * timeScale;
      counts.messages += await purgeInBatches(
        () => this.options.messages.purgeFinished(messageCutoff, BATCH),
        stillOpen,
      );
      const inboxBatch = db.transaction(() => {
        const expired = { cutoff: messageCutoff, limit: BATCH };
        this.statements.deleteExpiredAttachments.run(expired);
        return this.statements.deleteExpiredInbox.run(expired).changes;
      });
      counts.received += await purgeInBatches(inboxBatch, stillOpen);
    }
    if (db.open) this.options.log?.purge(now - retention.logs * DAY_MS * timeScale);
    return counts;
  }
}
