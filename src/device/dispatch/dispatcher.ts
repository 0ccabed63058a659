import type { AttemptResult, ClaimedDelivery, Outbox } from '../store/outbox.ts';
import type { AttemptOutcome } from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { ReceiverSlots } from './receiver-slots.ts';
import { FreshDeliveries } from './fresh-deliveries.ts';

/** While a busy receiver's deliveries wait, how often the queue is looked at again, ms. */
const BUSY_RECEIVER_RECHECK_MS = 25;
/** After results could not be recorded (the disk was full), when to try again, ms. */
const RECORD_RETRY_MS = 500;
/**
 * While no delivery waits for a slot, how long a finished attempt's result may wait to share its
 * commit with the next ones, ms. At a steady trickle each commit otherwise records one result; the
 * result waits in memory as the attempt did in flight (a crash sends it again, as it would then).
 */
export const RECORD_GATHER_MS = 5;

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

/**
 * The delivery loop: claim due deliveries, sign and send them, record each attempt.
 *
 * It is woken directly when an event commits, so the first attempt does not wait for a poll.
 * Retries are served by one timer armed for the earliest due delivery (never one timer per
 * delivery). Finished attempts are recorded in batches, one transaction per batch.
 */
export class Dispatcher {
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private inFlight = 0;
  /** attempts in flight per receiver */
  private readonly slots: ReceiverSlots;
  private nextLookaheadAt = 0;
  private readonly finished: AttemptResult[] = [];
  private pumpQueued = false;
  private flushQueued = false;
  private gatherTimer: NodeJS.Timeout | null = null;
  private dueTimer: unknown = null;
  private dueTimerAt = Infinity;
  private pollTimer: NodeJS.Timeout | null = null;
  private running = false;
  /** set once stop() has released what was left: later results belong to released claims */
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** receivers whose slot the claim under way took, to give back if its transaction fails */
  private readonly admittedThisPump: string[] = [];
  private readonly admitAndNote = (url: string): boolean => {
    const admitted = this.slots.admit(url);
    if (admitted) this.admittedThisPump.push(url);
    return admitted;
  };
  private recordRetryTimer: unknown = null;
  /**
   * New deliveries kept in memory (see FreshDeliveries). Only while `freshValid`: the last read of
   * the outbox found every due delivery taken, and the outbox has not changed a pending delivery
   * since (`freshAsOf`, its change count then). Otherwise the next pump reads the outbox.
   */
  private readonly fresh = new FreshDeliveries();
  private freshValid = false;
  private freshAsOf = -1;

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
    // The safety net reads the outbox itself, whatever is in memory.
    this.pollTimer = setInterval(() => {
      this.forgetFresh();
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
   * Deliveries committed: send them. `ready` are the new deliveries as the outbox handed them out
   * (undefined: read them from the outbox). They are taken from memory when the outbox has nothing
   * older waiting; otherwise, or when too many wait, the outbox is read again.
   */
  offer(ready?: readonly ClaimedDelivery[]): void {
    if (ready === undefined || !this.freshValid || !this.fresh.add(ready)) this.forgetFresh();
    this.wake();
  }

  /** The outbox is read again on the next pump. */
  private forgetFresh(): void {
    this.freshValid = false;
    this.fresh.clear();
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
   * Record `finished` attempts and claim as many due deliveries as there is room for, in one
   * transaction, then start sending them.
   */
  private pump(finished: AttemptResult[] = []): void {
    const { clock, outbox, retries } = this.options;
    const delivering = this.running && this.options.mayDeliver();
    const room = delivering ? this.concurrency - this.inFlight + finished.length : 0;
    if (finished.length === 0 && room <= 0) return; // full, nothing to record: a finishing attempt pumps again
    for (const r of finished) this.slots.release(r.delivery.url);
    const now = clock.now();
    // Looking further down the queue past a busy receiver's deliveries costs a read of many rows:
    // at most once per recheck period, not on every finished attempt.
    const lookahead = now >= this.nextLookaheadAt;
    this.admittedThisPump.length = 0;
    if (this.freshValid && outbox.changeCount !== this.freshAsOf) this.forgetFresh();
    const fromMemory = this.freshValid;
    let claimed: ClaimedDelivery[];
    try {
      if (fromMemory) {
        if (finished.length > 0) outbox.recordAttempts(finished, retries, now);
        claimed = this.fresh.take(room, this.slots.admit);
        for (const delivery of claimed) outbox.adopt(delivery);
      } else {
        claimed = outbox.recordAndClaim(finished, retries, now, room, this.admitAndNote, lookahead);
      }
    } catch (error) {
      this.keepUnrecorded(finished, error);
      return;
    }
    // whether a due delivery was left waiting because its receiver was busy
    const refusedAny = this.slots.takeRefused();
    if (!fromMemory && refusedAny && lookahead) this.nextLookaheadAt = now + BUSY_RECEIVER_RECHECK_MS;
    // Every due delivery is taken: until something changes, the next ones are those offered.
    if (!fromMemory && delivering && claimed.length < room && !refusedAny) {
      this.freshValid = true;
      this.freshAsOf = outbox.changeCount;
    }
    this.inFlight -= finished.length;
    if (claimed.length > 0) {
      const key = this.options.signingKey();
      for (const delivery of claimed) {
        this.inFlight++;
        void this.options.send(delivery, key).then((result) => this.finish(result));
      }
    }
    if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    // Deliveries now wait for slots that gathered results still hold: record those at once.
    if (this.gatherTimer !== null && (this.fresh.size > 0 || !this.freshValid)) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = null;
      setImmediate(() => this.flush());
    }
    // Not full: nothing more can start now. Wait for the next due retry; but when deliveries were
    // left waiting for a busy receiver, look again shortly (they are due already, so the timer
    // would otherwise fire at once, again and again). From memory, the next due retry can only
    // have moved if an attempt failed, and a busy receiver's deliveries wait for its slots to free.
    if (delivering && claimed.length < room) {
      if (!fromMemory) this.armDueTimer(refusedAny ? clock.now() + BUSY_RECEIVER_RECHECK_MS : 0);
      else if (finished.some((r) => !r.ok)) this.armDueTimer(0);
    }
  }

  /**
   * The transaction failed and SQLite rolled it back: the new claims were never made (their slots go
   * back), and the finished attempts are still in flight until their results are recorded, which is
   * tried again shortly. Sent and unrecorded, a delivery is at worst sent again after a restart.
   */
  private keepUnrecorded(finished: AttemptResult[], error: unknown): void {
    for (const url of this.admittedThisPump) this.slots.release(url);
    this.admittedThisPump.length = 0;
    for (const r of finished) this.slots.hold(r.delivery.url);
    this.finished.unshift(...finished);
    if (!this.options.onRecordFailure?.(error)) throw error;
    // stop() waits for attempts in flight; these have finished, only their record waits.
    if (this.inFlight === this.finished.length) for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (this.recordRetryTimer !== null || this.stopped) return;
    this.recordRetryTimer = this.options.clock.setTimeout(() => {
      this.recordRetryTimer = null;
      if (!this.stopped) this.flush();
    }, RECORD_RETRY_MS);
  }

  private armDueTimer(notBefore: number): void {
    const { clock, outbox } = this.options;
    // Armed no later than it could be moved to: the earliest due row cannot make it sooner.
    if (this.dueTimerAt <= notBefore) return;
    const nextDue = outbox.nextDueAt();
    if (nextDue === null) return;
    const dueAt = Math.max(nextDue, notBefore);
    if (dueAt >= this.dueTimerAt) return;
    if (this.dueTimer !== null) clock.clearTimeout(this.dueTimer);
    this.dueTimerAt = dueAt;
    this.dueTimer = clock.setTimeout(
      () => {
        this.dueTimer = null;
        this.dueTimerAt = Infinity;
        // what came due is in the outbox only
        this.forgetFresh();
        this.pump();
      },
      Math.max(0, dueAt - clock.now()),
    );
  }

  private finish(result: AttemptResult): void {
    // An attempt that outlived stop()'s grace was released back to the queue (and the store may be
    // closed by now); its result is dropped and the delivery is retried after a restart.
    if (this.stopped) return;
    this.finished.push(result);
    this.options.onAttempt?.(result, this.options.retries.outcome(result));
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Deliveries waiting in the outbox need the slot now; otherwise gather (a pump that leaves new
    // ones waiting for a slot ends the gathering). A real timer, not the injected clock: it spaces
    // out commits, it does not schedule a delivery.
    if (this.freshValid) this.gatherTimer = setTimeout(() => this.flush(), RECORD_GATHER_MS);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.gatherTimer !== null) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    if (this.finished.length > 0) this.pump(this.finished.splice(0));
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
    if (this.inFlight > this.finished.length) {
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
    this.forgetFresh();
    this.slots.clear();
    this.stopped = true;
  }
}
