import type { AttemptResult, ClaimedDelivery, DuePosition, Outbox } from '../store/outbox.ts';
import { isAfter } from '../store/outbox.ts';
import type { AttemptOutcome } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { ReceiverSlots } from './receiver-slots.ts';
import { READ_AHEAD_LIMIT, DueQueue } from './due-queue.ts';

/** After results could not be recorded (the disk was full), when to try again, ms. */
const RECORD_RETRY_MS = 500;
/**
 * How long a finished attempt's result may wait to share its commit with the next ones, ms. Its
 * slot is free at once; the result waits in memory as the attempt did in flight (the delivery
 * stays claimed, and a crash sends it again, as it would then). Under load a commit records a
 * hundred results instead of the few that finish in one turn. At 1,000 events/s, 20 ms instead of 5
 * means a quarter of the commits, ~15–85 µs less device CPU per event, and a lower p99 (BENCHMARKS.md,
 * latency).
 */
export const RECORD_GATHER_MS = 20;
/** Results waiting to be recorded at which they are recorded at once, and no more is sent until they are. */
export const RECORD_BATCH_LIMIT = 512;

export interface DispatcherOptions {
  outbox: Outbox;
  clock: Clock;
  send: (delivery: ClaimedDelivery, signingKey: string) => Promise<AttemptResult>;
  signingKey: () => string;
  /** when a failed attempt is tried again, and when it was the last */
  retries: RetryPolicy;
  /** false while deliveries must wait (no connectivity and internet required) */
  mayDeliver: () => boolean;
  /** attempts in flight at once */
  concurrency?: number;
  /**
   * attempts in flight at once to one receiver (scheme, host and port); default half of
   * `concurrency`, so a receiver that hangs leaves the other half to everyone else
   */
  perReceiverLimit?: number;
  /** safety net: how often the queue is looked at even if nothing woke the dispatcher */
  pollIntervalMs?: number;
  /** every finished attempt, as soon as it has finished, with what becomes of it */
  onAttempt?: (result: AttemptResult, outcome: AttemptOutcome) => void;
  /**
   * Recording results failed: true when that is a condition to wait out (a full disk), and the
   * results are kept and recorded again shortly; false rethrows the error.
   */
  onRecordFailure?: (error: unknown) => boolean;
}

/** Due deliveries read from the outbox at a time. */
export const PAGE_SIZE = 256;

/**
 * The delivery loop: take due deliveries, sign and send them, record each attempt.
 *
 * The due deliveries wait in memory (`DueQueue`, one queue per receiver), read from the outbox a
 * page at a time in due order, and new ones join as their transaction commits, so a delivery is
 * read back from SQLite at most once, not on every claim. What is in memory stays the truth of
 * the outbox as long as nothing else changes a pending delivery: a cancelled webhook, a redeliver
 * or a release (the outbox's change count), and a retry coming due, each start the reading over
 * from the front. It is woken directly when an event commits, so the first attempt does not wait
 * for a poll. Retries are served by one timer armed for the earliest one (never one timer per
 * delivery). Finished attempts free their slot at once; their results are recorded in batches,
 * one transaction for what finished within RECORD_GATHER_MS.
 */
export class Dispatcher {
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private inFlight = 0;
  /** attempts in flight per receiver */
  private readonly slots: ReceiverSlots;
  /** finished attempts whose results wait to be recorded, their deliveries still claimed */
  private readonly finished: AttemptResult[] = [];
  private pumpQueued = false;
  private gatherTimer: NodeJS.Timeout | null = null;
  private dueTimer: unknown = null;
  private dueTimerAt = Infinity;
  private pollTimer: NodeJS.Timeout | null = null;
  private running = false;
  /** set once stop() has released what was left: later results belong to released claims */
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private recordRetryTimer: unknown = null;
  /**
   * The due deliveries not yet taken: every one either waits here or lies past `read` in the
   * outbox's due order. `readAll`: the last read found none past it, so deliveries committed since
   * join here (and move `read` past them); otherwise they are left to a later read.
   */
  private readonly due = new DueQueue();
  private read: DuePosition | null = null;
  private readAll = false;
  /** the outbox's change count when the reading started over */
  private readAsOf = -1;
  /**
   * The outbox's count of delivery rows written, as far as they are accounted for: offered, or
   * found by a read. When it lags, some were written without being offered.
   */
  private writesSeen = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.concurrency = options.concurrency ?? 32;
    this.slots = new ReceiverSlots(
      Math.max(1, Math.min(this.concurrency, options.perReceiverLimit ?? Math.ceil(this.concurrency / 2))),
    );
    this.pollIntervalMs = options.pollIntervalMs ?? 5_000;
  }

  /** Start delivering. Deliveries a crash left in flight are queued again first. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.options.outbox.releaseInFlight(this.options.clock.now());
    this.readFromStart();
    // The safety net reads the outbox again from the front, whatever is in memory.
    this.pollTimer = setInterval(() => {
      this.readFromStart();
      this.wake();
    }, this.pollIntervalMs);
    this.pollTimer.unref();
    this.wake();
  }

  /** Something may be due now: an event committed, a setting changed, the network came back. */
  wake(): void {
    if (this.pumpQueued || !this.running) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * Deliveries committed: send them. `ready` are the new deliveries as the outbox handed them out,
   * after their commit (undefined: they are only in the outbox, to be read there).
   */
  offer(ready?: readonly ClaimedDelivery[]): void {
    if (ready !== undefined) this.writesSeen += ready.length;
    if (ready === undefined) this.readFromStart();
    else if (ready.length > 0 && this.readAll) {
      const last = ready[ready.length - 1];
      // past what was read (a clock set back could make it not so: then read again from the front)
      if (this.read !== null && !isAfter(ready[0], this.read)) this.readFromStart();
      else if (this.due.add(ready)) this.read = { dueAt: last.dueAt, seq: last.seq };
      else this.readAll = false; // too many wait: these stay in the outbox, past `read`, for a later read
    }
    this.wake();
  }

  /** Forget what is in memory: the next claim reads the outbox from the front. */
  private readFromStart(): void {
    this.due.clear();
    this.read = null;
    this.readAll = false;
  }

  /**
   * Queue a delivery again now, with a fresh retry budget, and send it at once. `sending`: its
   * attempt is in flight (ask again when it has finished); `unknown`: no such delivery.
   */
  redeliver(id: string): 'queued' | 'sending' | 'cancelled' | 'unknown' {
    const { outbox, clock } = this.options;
    if (outbox.redeliver(id, clock.now())) {
      this.wake();
      return 'queued';
    }
    const delivery = outbox.getDelivery(id);
    if (!delivery) return 'unknown';
    return delivery.state === 'cancelled' ? 'cancelled' : 'sending';
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /**
   * Take as many due deliveries as there is room for and send them. Nothing is sent while results
   * wait for a record that failed (a full disk), or while RECORD_BATCH_LIMIT of them wait.
   */
  private pump(): void {
    const delivering =
      this.running &&
      this.recordRetryTimer === null &&
      this.finished.length < RECORD_BATCH_LIMIT &&
      this.options.mayDeliver();
    const room = delivering ? this.concurrency - this.inFlight : 0;
    if (room <= 0) return; // full: a finishing attempt pumps again
    const claimed = this.claim(room, this.options.clock.now());
    if (claimed.length === 0) return;
    const key = this.options.signingKey();
    for (const delivery of claimed) {
      this.inFlight++;
      void this.options.send(delivery, key).then((result) => this.finish(result));
    }
  }

  /** Record the finished attempts (one transaction); a retry due by now starts the reading over. */
  private record(): void {
    if (this.finished.length === 0) return;
    const { clock, outbox, retries } = this.options;
    const finished = this.finished.splice(0);
    const now = clock.now();
    try {
      outbox.recordAttempts(finished, retries, now);
    } catch (error) {
      this.keepUnrecorded(finished, error);
      return;
    }
    this.scheduleRetries(finished, now);
  }

  /**
   * Up to `room` due deliveries, oldest first, each of a receiver with a free slot. Reads the
   * outbox when memory runs short, and further when a busy receiver's deliveries fill what was read
   * (so that they do not hold up the others), up to READ_AHEAD_LIMIT in memory.
   */
  private claim(room: number, now: number): ClaimedDelivery[] {
    const { outbox } = this.options;
    if (this.read !== null && outbox.changeCount !== this.readAsOf) this.readFromStart();
    // Deliveries that reached the outbox without being offered (written by another path) are found
    // by one index seek, not assumed away; the seek is spared while every row written was offered.
    if (this.readAll && outbox.deliveriesWritten !== this.writesSeen) {
      this.writesSeen = outbox.deliveriesWritten;
      if (outbox.anyDueAfter(this.read, now)) this.readAll = false;
    }
    if (!this.readAll && this.due.size < room) this.readPage(now);
    const claimed = this.due.take(room, this.slots.admit);
    while (
      claimed.length < room &&
      !this.readAll &&
      this.slots.takeRefused() &&
      this.due.size + PAGE_SIZE <= READ_AHEAD_LIMIT
    ) {
      this.readPage(now);
      for (const delivery of this.due.take(room - claimed.length, this.slots.admit)) claimed.push(delivery);
    }
    this.slots.takeRefused();
    for (const delivery of claimed) outbox.adopt(delivery);
    return claimed;
  }

  /** The next page of due deliveries from the outbox, into memory. */
  private readPage(now: number): void {
    const { outbox } = this.options;
    if (this.read === null) {
      // Reading from the front: retries due later (some from before a restart) need the timer.
      this.readAsOf = outbox.changeCount;
      const nextRetry = outbox.nextDueAfter(now);
      if (nextRetry !== null) this.armDueTimer(nextRetry);
    }
    const page = outbox.duePage(this.read, now, PAGE_SIZE);
    this.due.add(page.deliveries, true);
    if (page.last) this.read = page.last;
    this.readAll = page.read < PAGE_SIZE;
    // read to the end: whatever was written so far is in memory or was taken already
    if (this.readAll) this.writesSeen = outbox.deliveriesWritten;
  }

  /**
   * A failed attempt comes due again at its retry time, in the outbox only: the timer is armed for
   * it, and one due already (a retry delay scaled to nothing) sends the reading back to the front.
   */
  private scheduleRetries(finished: readonly AttemptResult[], now: number): void {
    for (const result of finished) {
      if (result.ok) continue;
      const at = this.options.retries.retryAt(result);
      if (at === null) continue;
      if (at <= now) this.readFromStart();
      else this.armDueTimer(at);
    }
  }

  /**
   * The transaction failed and SQLite rolled it back: the finished attempts stay claimed until
   * their results are recorded, which is tried again shortly, and nothing new is sent meanwhile.
   * Sent and unrecorded, a delivery is at worst sent again after a restart.
   */
  private keepUnrecorded(finished: AttemptResult[], error: unknown): void {
    this.finished.unshift(...finished);
    if (!this.options.onRecordFailure?.(error)) throw error;
    if (this.recordRetryTimer !== null || this.stopped) return;
    this.recordRetryTimer = this.options.clock.setTimeout(() => {
      this.recordRetryTimer = null;
      if (this.stopped) return;
      this.flush();
      this.wake();
    }, RECORD_RETRY_MS);
  }

  /** Arm the retry timer for `at`, unless it is armed sooner already. */
  private armDueTimer(at: number): void {
    const { clock } = this.options;
    if (at >= this.dueTimerAt) return;
    if (this.dueTimer !== null) clock.clearTimeout(this.dueTimer);
    this.dueTimerAt = at;
    this.dueTimer = clock.setTimeout(
      () => {
        this.dueTimer = null;
        this.dueTimerAt = Infinity;
        // what came due lies before what was read: read again from the front
        this.readFromStart();
        this.pump();
      },
      Math.max(0, at - clock.now()),
    );
  }

  private finish(result: AttemptResult): void {
    // An attempt that outlived stop()'s grace was released back to the queue (and the store may be
    // closed by now); its result is dropped and the delivery is retried after a restart.
    if (this.stopped) return;
    this.inFlight--;
    this.slots.release(result.delivery.url);
    this.finished.push(result);
    this.options.onAttempt?.(result, this.options.retries.outcome(result));
    if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (this.finished.length >= RECORD_BATCH_LIMIT) {
      this.flush();
    } else if (this.gatherTimer === null && this.recordRetryTimer === null) {
      // A real timer, not the injected clock: it spaces out commits, it does not schedule a delivery.
      this.gatherTimer = setTimeout(() => {
        this.gatherTimer = null;
        this.flush();
        this.wake();
      }, RECORD_GATHER_MS);
    }
    this.wake();
  }

  /** Record what has finished now, not when the gathering ends. */
  private flush(): void {
    if (this.gatherTimer !== null) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    this.record();
  }

  /**
   * Stop claiming, let attempts in flight finish for up to `graceMs`, record them, and put any
   * still unfinished back in the queue so a restart resumes them.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.dueTimer !== null) this.options.clock.clearTimeout(this.dueTimer);
    this.dueTimer = null;
    this.dueTimerAt = Infinity;
    if (this.recordRetryTimer !== null) this.options.clock.clearTimeout(this.recordRetryTimer);
    this.recordRetryTimer = null;
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    this.flush();
    if (this.recordRetryTimer !== null) this.options.clock.clearTimeout(this.recordRetryTimer);
    // Results still unrecorded (a full disk) are dropped with their claims: released, the
    // deliveries are sent again after the restart.
    this.options.outbox.releaseInFlight(this.options.clock.now());
    this.readFromStart();
    this.slots.clear();
    this.stopped = true;
  }
}
