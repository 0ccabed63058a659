const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws a clear error for a time zone name the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  try {
    formatterFor(timeZone);
  } catch {
    throw new Error(`unknown time zone "${timeZone}"; use an IANA name such as Europe/Berlin or Asia/Bangkok`);
  }
}

export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** The last second formatted per time zone: events come many to a second, and formatToParts is slow. */
const lastSecond = new Map<string, { second: number; wall: string; offset: string }>();

/** `2024-06-22T15:46:11.000+07:00`: the wall time in `timeZone`, with milliseconds and offset. */
export function formatInZone(ms: number, timeZone: string): string {
  const millis = ((ms % 1000) + 1000) % 1000;
  const second = ms - millis;
  let cached = lastSecond.get(timeZone);
  if (cached?.second !== second) {
    // the offset cannot change within a second: zone transitions fall on whole minutes
    const parts: Record<string, number> = {};
    for (const part of formatterFor(timeZone).formatToParts(new Date(second))) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    const wallAsUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    const offsetMinutes = Math.round((wallAsUtc - second) / 60_000);
    const sign = offsetMinutes < 0 ? '-' : '+';
    cached = {
      second,
      wall: `${parts.year}-${pad(parts.month)}-${pad(parts.day)}T${pad(parts.hour)}:${pad(parts.minute)}:${pad(parts.second)}`,
      offset: `${sign}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`,
    };
    lastSecond.set(timeZone, cached);
  }
  return `${cached.wall}.${pad(millis, 3)}${cached.offset}`;
}
