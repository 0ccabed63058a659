import { parseIsoDateTime } from '../protocol/index.ts';
import { InvalidInputError } from './errors.ts';

/** An ISO 8601 date-time as epoch ms, or an invalid-input error naming the field and the format. */
export function requireIsoDateTime(value: string, field: string): number {
  const ms = parseIsoDateTime(value);
  if (ms === undefined) {
    throw new InvalidInputError(`${field} must be an ISO 8601 date-time such as 2030-01-01T00:00:00Z, got "${value}"`);
  }
  return ms;
}

/** `?from=&to=` as epoch ms (either may be absent); a range that ends before it starts is the caller's mistake. */
export function requireTimeRange(
  from: string | undefined,
  to: string | undefined,
  names: [string, string] = ['from', 'to'],
): { from?: number; to?: number } {
  const range = {
    from: from === undefined ? undefined : requireIsoDateTime(from, names[0]),
    to: to === undefined ? undefined : requireIsoDateTime(to, names[1]),
  };
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new InvalidInputError(`${names[0]} (${from}) is after ${names[1]} (${to}); swap them or widen the range`);
  }
  return range;
}

/** The window of an inbox refresh: both ends required, `since` not after `until`. */
export function requireRefreshWindow(since: string, until: string): { since: number; until: number } {
  const range = requireTimeRange(since, until, ['since', 'until']);
  return { since: range.from!, until: range.to! };
}
