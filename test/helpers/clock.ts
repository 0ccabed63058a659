import type { Clock } from '../../src/shared/clock.ts';

/**
 * A clock that runs at real speed from `start` and that a test can move forward at once: `advance`
 * fires every timer that has come due, so hours of waiting pass in a moment while short timers
 * (a carrier's delay, a webhook retry) keep running on their own.
 */
export function jumpingClock(start: number): Clock & { advance(ms: number): void } {
  let offset = start - Date.now();
  const now = () => Date.now() + offset;
  const timers = new Map<NodeJS.Timeout, { due: number; fn: () => void }>();
  return {
    now,
    setTimeout(fn, ms) {
      const handle: NodeJS.Timeout = setTimeout(
        () => {
          timers.delete(handle);
          fn();
        },
        Math.min(Math.max(0, ms), 2_147_483_647),
      );
      timers.set(handle, { due: now() + ms, fn });
      return handle;
    },
    clearTimeout(handle) {
      clearTimeout(handle as NodeJS.Timeout);
      timers.delete(handle as NodeJS.Timeout);
    },
    advance(ms) {
      offset += ms;
      for (const [handle, timer] of [...timers]) {
        if (timer.due > now()) continue;
        clearTimeout(handle);
        timers.delete(handle);
        setImmediate(timer.fn);
      }
    },
  };
}
