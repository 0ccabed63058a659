import { LIMIT_PERIOD_MS, type StoredSettings } from '../protocol/index.ts';
import { formatInZone } from './time-format.ts';

type MessagesSettings = StoredSettings['messages'];

/** The priority from which a message goes ahead of the send interval and the limit (the app's "expedited"). */
export const EXPEDITED_PRIORITY = 100;

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The wall-clock minute of the day at `now` in `timeZone`. */
function minuteOfDay(now: number, timeZone: string): number {
  return minutesOf(formatInZone(now, timeZone).slice(11, 16));
}

/**
 * Whether `now` is inside the work hours, on the device's wall clock. Start included, end excluded;
 * an end before the start spans midnight (22:00–06:00); equal ones mean all day.
 */
export function inWorkHours(settings: MessagesSettings, now: number, timeZone: string): boolean {
  if (!settings.work_hours_enabled) return true;
  const start = minutesOf(settings.work_hours_start);
  const end = minutesOf(settings.work_hours_end);
  if (start === end) return true;
  const minute = minuteOfDay(now, timeZone);
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * When the work hours open next (epoch ms), or undefined when `now` is inside them. Counted in wall
 * minutes from now: across a daylight-saving change it may be an hour off, and whoever waits checks
 * `inWorkHours` again when it wakes.
 */
export function nextWorkHoursStart(settings: MessagesSettings, now: number, timeZone: string): number | undefined {
  if (inWorkHours(settings, now, timeZone)) return undefined;
  const minutesAhead = (minutesOf(settings.work_hours_start) - minuteOfDay(now, timeZone) + DAY_MINUTES) % DAY_MINUTES;
  // from the start of the current minute
  return now - (((now % MINUTE) + MINUTE) % MINUTE) + minutesAhead * MINUTE;
}

/**
 * The app's rate limit: once `limit_value` messages were handed to the carrier within the last
 * `limit_period`, the next waits until a period has passed since the latest of them, and a second
 * more. Returns that time, or undefined when the next message may go now.
 */
export function limitReleaseAt(
  settings: MessagesSettings,
  now: number,
  countSince: (since: number) => { count: number; last: number | null },
): number | undefined {
  const period = LIMIT_PERIOD_MS[settings.limit_period];
  const limit = settings.limit_value ?? 0;
  if (period === 0 || limit <= 0) return undefined;
  const { count, last } = countSince(now - period);
  if (count < limit || last === null) return undefined;
  return last + period + 1000;
}

/**
 * The pause after a message, ms: whole seconds drawn evenly from `send_interval_min` (0 when unset)
 * to `send_interval_max`. As in the app, there is no pause when the maximum is unset or below the
 * minimum.
 */
export function sendIntervalMs(settings: MessagesSettings, random: () => number = Math.random): number {
  const min = settings.send_interval_min ?? 0;
  const max = settings.send_interval_max;
  if (max === null || min > max) return 0;
  return (min + Math.floor(random() * (max - min + 1))) * 1000;
}
