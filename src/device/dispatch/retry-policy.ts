import type { AttemptOutcome, DeliveryState } from '../../protocol/index.ts';
import type { AttemptResult } from '../store/outbox.ts';

/** The documented schedule: 10 s before the first retry, doubling each time. */
export const FIRST_RETRY_DELAY_MS = 10_000;
/** A receiver must answer with a 2xx within this long. */
export const ATTEMPT_TIMEOUT_MS = 30_000;

/** Delay before retry number `retriesSoFar + 1`, in real milliseconds after scaling. */
export function retryDelayMs(retriesSoFar: number, timeScale: number): number {
  return FIRST_RETRY_DELAY_MS * 2 ** retriesSoFar * timeScale;
}

/**
 * The retry rule, whole. A delivery gets a first attempt and `webhooks.retry_count` retries,
 * counted since it was last queued again by hand (`retriesSoFar`); retry n + 1 comes
 * `retryDelayMs(n)` after attempt n ended. A failed attempt with no retry left is the last one:
 * the delivery has failed. The dispatcher asks this once an attempt has finished (for the metrics,
 * the log and the live view) and the outbox asks it when it records the attempt.
 */
export class RetryPolicy {
  constructor(
    private readonly options: {
      /** the retries a delivery gets after its first attempt (`webhooks.retry_count`, read on every call) */
      retryCount: () => number;
      /** multiplies the delays (SMSGATE_TIME_SCALE) */
      timeScale: number;
    },
  ) {}

  /** Whether an attempt that fails now is the delivery's last. */
  isLastAttempt(retriesSoFar: number): boolean {
    return retriesSoFar >= this.options.retryCount();
  }

  /** What became of a finished attempt: done, another try scheduled, or the retries used up. */
  outcome(result: AttemptResult): AttemptOutcome {
    if (result.ok) return 'succeeded';
    return this.isLastAttempt(result.delivery.retriesSoFar) ? 'failed' : 'retry';
  }

  /** When a failed attempt is tried again; null when it was the last (the delivery has failed). */
  retryAt(result: AttemptResult): number | null {
    const { retriesSoFar } = result.delivery;
    if (this.isLastAttempt(retriesSoFar)) return null;
    return result.startedAt + result.durationMs + retryDelayMs(retriesSoFar, this.options.timeScale);
  }
}

/**
 * An attempt's outcome read back from the stored delivery, when nobody saw it finish (an attempt
 * from before a restart): a 2xx succeeded, and the last attempt of a failed delivery was the one
 * that used the retries up; any other failure was retried.
 */
export function storedAttemptOutcome(
  attempt: { number: number; status: number | null },
  delivery: { state: DeliveryState; attempts: number },
): AttemptOutcome {
  if (attempt.status !== null && attempt.status >= 200 && attempt.status < 300) return 'succeeded';
  return attempt.number === delivery.attempts && delivery.state === 'failed' ? 'failed' : 'retry';
}
