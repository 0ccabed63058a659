/**
 * Time, injected. Everything that schedules or stamps goes through a Clock so that tests can run
 * the whole retry schedule in milliseconds (with a time scale) or step it by hand.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// setTimeout's largest delay; longer waits are re-armed when they fire early.
const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * SMSGATE_TIME_SCALE multiplies every retry delay and timeout (0.001 turns 10 s into 10 ms).
 * Bad values are refused loudly rather than silently treated as 1.
 */
export function timeScaleFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SMSGATE_TIME_SCALE;
  if (raw === undefined || raw === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > 1000) {
    throw new Error(`SMSGATE_TIME_SCALE must be a positive number such as 1 or 0.001, got "${raw}"`);
  }
  return value;
}
