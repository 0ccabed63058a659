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
