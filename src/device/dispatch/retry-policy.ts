/** The documented schedule: 10 s before the first retry, doubling each time. */
export const FIRST_RETRY_DELAY_MS = 10_000;
/** A receiver must answer with a 2xx within this long. */
export const ATTEMPT_TIMEOUT_MS = 30_000;

/** Delay before retry number `retriesSoFar + 1`, in real milliseconds after scaling. */
export function retryDelayMs(retriesSoFar: number, timeScale: number): number {
  return FIRST_RETRY_DELAY_MS * 2 ** retriesSoFar * timeScale;
}
