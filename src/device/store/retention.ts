import { Worker } from 'node:worker_threads';
import type { Clock } from '../../shared/clock.ts';
import type { Db } from './database.ts';
import type { DeviceLog } from './logs.ts';
import type { MessageStore } from './messages.ts';
import { DAY_MS, PURGE_BATCH, PURGE_EVERY_MS, purgeInBatches } from '../../shared/retention.ts';
import { writeLockOf } from '../../shared/sqlite.ts';
import type { WriteLock } from '../../shared/write-lock.ts';

/**
 * Rows a batch of the purge's thread deletes: more than PURGE_BATCH, since its batches no longer
 * hold the event loop. Each commit of another connection makes the event loop's connection drop
 * its page cache and read its pages again: at 1,000 events/s, batches of 25 cost the event loop
 * ~30 µs per event that way, batches of 100 next to nothing; and a row costs the thread less in a
 * bigger batch (~8 µs against ~11 per SMS here). The event loop waits for a batch only when it
 * begins a transaction of its own meanwhile: a few times a second, ~0.4 ms each (BENCHMARKS.md).
 */
const THREAD_BATCH = 100;
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
 * The statements of the purge's batches, which its thread prepares on its own connection.
 * Parameters are named; each batch repeats the guards, so a row that is pending, or finished since
 * the cutoff, stays however it got into the range.
 */
export const PURGE_SQL = {
  // Deliveries are numbered in creation order, so no row created after the cutoff can be finished
  // before it: the scan for expired rows stops at the first row created since.
  // NOT INDEXED: walked from the oldest row, it passes only what is left to purge; through an
  // index on created_at, were one added, it would sort every row created since the cutoff.
  firstSeqCreatedSince: `SELECT seq FROM deliveries NOT INDEXED WHERE created_at >= :cutoff ORDER BY seq LIMIT 1`,
  // A batch is the seq range of the next THREAD_BATCH expired deliveries; each statement below
  // deletes within that range. A batch's statements run once, not once a row: a batch of 25 (then
  // with four statements) took 0.64 ms at the median under load, not 0.92 (BENCHMARKS.md, Results,
  // 2026-12-04 19:48).
  expiredRange: `SELECT min(seq) AS first, max(seq) AS last, count(*) AS count FROM (
      SELECT seq FROM deliveries
       WHERE seq < :below AND state IN ('succeeded', 'failed', 'cancelled') AND updated_at < :cutoff
       ORDER BY seq LIMIT :limit)`,
  deleteAttemptsInRange: `DELETE FROM attempts WHERE delivery_seq BETWEEN :first AND :last AND delivery_seq IN (
      SELECT seq FROM deliveries
       WHERE seq BETWEEN :first AND :last AND state IN ('succeeded', 'failed', 'cancelled') AND updated_at < :cutoff)`,
  // a successful attempt kept on the row (device migration 0014) goes with it, and counts as an attempt
  deleteDeliveriesInRange: `DELETE FROM deliveries
      WHERE seq BETWEEN :first AND :last AND state IN ('succeeded', 'failed', 'cancelled') AND updated_at < :cutoff
     RETURNING success_started_at IS NOT NULL AS successOnRow`,
  // received messages, oldest first, with their attachments: the same :limit rows in both statements
  deleteExpiredAttachments: `DELETE FROM inbox_attachments WHERE inbox_seq IN (
      SELECT seq FROM inbox WHERE received_at < :cutoff ORDER BY received_at, seq LIMIT :limit)`,
  deleteExpiredInbox: `DELETE FROM inbox WHERE seq IN (
      SELECT seq FROM inbox WHERE received_at < :cutoff ORDER BY received_at, seq LIMIT :limit)`,
} as const;

/** What the purge's thread answers to each request (`purge-worker.mjs`). */
interface PurgeRequests {
  firstSeqCreatedSince: { args: { cutoff: number }; result: number | null };
  deliveries: {
    args: { cutoff: number; below: number; limit: number };
    result: { count: number; deliveries: number; attempts: number };
  };
  inbox: { args: { cutoff: number; limit: number }; result: number };
}

/**
 * The purge's thread: a worker with its own connection to the device's file, which runs one batch
 * at a time when asked. While a batch runs the event loop goes on; it waits only if it begins a
 * transaction of its own meanwhile, and then until that batch commits (`WriteLock`).
 */
class PurgeThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(result: unknown): void; reject(error: unknown): void }>();
  /** how long the thread's batches took, each from its start to its commit (ms), for measurements */
  readonly batches = { count: 0, ms: 0 };

  constructor(
    private readonly file: string,
    private readonly lock: WriteLock,
  ) {}

  run<K extends keyof PurgeRequests>(kind: K, args: PurgeRequests[K]['args']): Promise<PurgeRequests[K]['result']> {
    const worker = (this.worker ??= this.startWorker());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
      worker.postMessage({ id, kind, args });
    });
  }

  private startWorker(): Worker {
    const worker = new Worker(new URL('./purge-worker.mjs', import.meta.url), {
      workerData: { file: this.file, sql: PURGE_SQL, lock: this.lock.buffer, lockTimeoutMs: this.lock.timeoutMs },
      // it runs a few statements at a time: a small heap keeps the device's memory down
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    });
    worker.unref();
    worker.on('message', (answer: { id: number; result?: unknown; heldMs?: number; error?: WorkerError }) => {
      const waiting = this.waiting.get(answer.id);
      if (!waiting) return;
      this.waiting.delete(answer.id);
      if (answer.heldMs !== undefined) {
        this.batches.count++;
        this.batches.ms += answer.heldMs;
      }
      if (answer.error) waiting.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
      else waiting.resolve(answer.result);
    });
    const ended = (error: unknown) => {
      if (this.worker !== worker) return;
      this.worker = null;
      // terminated in a batch, it could not give the lock back; its transaction ended with it
      this.lock.releaseWorkersHold();
      for (const waiting of this.waiting.values()) waiting.reject(error);
      this.waiting.clear();
    };
    worker.on('error', ended);
    worker.on('exit', (code) => ended(new Error(`the retention purge's thread ended (exit code ${code})`)));
    return worker;
  }

  /** Ends the thread once its batch under way has committed (at most 2 s later: then it is terminated). */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate(), 2_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ id: 0, kind: 'stop' });
    });
  }
}

interface WorkerError {
  message: string;
  code?: string;
}

/**
 * Removes what has outlived its retention, so that a device running for a year does not grow for
 * a year: finished deliveries with their attempts (`webhooks.log_lifetime_days`), messages in a
 * final state and received ones (`messages.log_lifetime_days`), and the device's own log
 * (`logs.lifetime_days`, and never more than `LOGS_KEPT` entries).
 *
 * It runs off the hot path: every minute, in batches of one transaction each, resting between them
 * so that it takes at most PURGE_TIME_SHARE (a tenth) of the time while it runs. The deliveries,
 * their attempts and the received messages, nearly all of its rows, are deleted on a thread of its
 * own (`PurgeThread`), THREAD_BATCH (100) rows a batch: on the event loop their batches held it
 * ~26 µs per event at 1,000 events/s, in blocks of ~0.33 ms that every event in flight waited
 * behind (BENCHMARKS.md, Bounded growth). Sent messages (PURGE_BATCH, 25, a transaction) and log
 * entries (one statement a run), a few a minute, are deleted on the event loop.
 * Pending deliveries are never touched, however old. SQLite puts the freed pages on its free list
 * and the next inserts reuse them, so the file stops growing at its high-water mark (no VACUUM,
 * which would rewrite the whole file while holding the write lock; see docs/reliability.md).
 */
export class RetentionPurger {
  private timer: unknown = null;
  private running: Promise<PurgeCounts> | null = null;
  private stopped = false;
  private readonly thread: PurgeThread;

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
    const lock = writeLockOf(options.db);
    if (!lock) throw new Error('the retention purge needs the device database in a file, opened with openDatabase');
    this.thread = new PurgeThread(options.db.name, lock);
  }

  /** What the purge's thread has spent in its batches so far (for measurements). */
  get threadBatches(): { readonly count: number; readonly ms: number } {
    return this.thread.batches;
  }

  start(): void {
    this.stopped = false;
    this.arm();
  }

  /** Stops the timer, and the thread once its batch under way has committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
    await this.thread.stop();
  }

  private arm(): void {
    this.timer = this.options.clock.setTimeout(
      () => {
        this.timer = null;
        this.purge()
          .catch(this.options.onError)
          .finally(() => {
            if (this.options.db.open && !this.stopped) this.arm();
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
    const keepGoing = () => db.open && !this.stopped;
    if (!keepGoing()) return counts;
    const logCutoff = now - retention.webhookLog * DAY_MS * timeScale;
    const below = (await this.thread.run('firstSeqCreatedSince', { cutoff: logCutoff })) ?? Number.MAX_SAFE_INTEGER;
    await purgeInBatches(
      async () => {
        const batch = await this.thread.run('deliveries', { cutoff: logCutoff, below, limit: THREAD_BATCH });
        counts.deliveries += batch.deliveries;
        counts.attempts += batch.attempts;
        return batch.count;
      },
      keepGoing,
      THREAD_BATCH,
    );

    if (retention.messages !== null) {
      const messageCutoff = now - retention.messages * DAY_MS * timeScale;
      counts.messages += await purgeInBatches(
        () => this.options.messages.purgeFinished(messageCutoff, PURGE_BATCH),
        keepGoing,
      );
      counts.received += await purgeInBatches(
        () => this.thread.run('inbox', { cutoff: messageCutoff, limit: THREAD_BATCH }),
        keepGoing,
        THREAD_BATCH,
      );
    }
    if (keepGoing()) this.options.log?.purge(now - retention.logs * DAY_MS * timeScale);
    return counts;
  }
}
