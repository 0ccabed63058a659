import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS } from '../../src/protocol/index.ts';
import { inWorkHours, limitReleaseAt, nextWorkHoursStart, sendIntervalMs } from '../../src/device/send-pacing.ts';

const messages = (patch: Partial<typeof DEFAULT_SETTINGS.messages>) => ({ ...DEFAULT_SETTINGS.messages, ...patch });
const ZONE = 'Asia/Bangkok'; // UTC+7, no daylight saving
const local = (hhmm: string) => Date.parse(`2026-03-02T${hhmm}:00+07:00`);

test('work hours: start included, end excluded, overnight windows, equal times all day, on the zone wall clock', () => {
  const day = messages({ work_hours_enabled: true, work_hours_start: '09:00', work_hours_end: '18:00' });
  const cases: [string, boolean][] = [
    ['08:59', false],
    ['09:00', true],
    ['17:59', true],
    ['18:00', false],
  ];
  for (const [at, open] of cases) assert.equal(inWorkHours(day, local(at), ZONE), open, at);
  assert.equal(inWorkHours(day, local('09:00'), 'UTC'), false, '09:00 in Bangkok is 02:00 UTC');

  const night = messages({ work_hours_enabled: true, work_hours_start: '22:00', work_hours_end: '06:00' });
  const nightCases: [string, boolean][] = [
    ['21:59', false],
    ['22:00', true],
    ['00:30', true],
    ['05:59', true],
    ['06:00', false],
  ];
  for (const [at, open] of nightCases) assert.equal(inWorkHours(night, local(at), ZONE), open, at);

  assert.equal(
    inWorkHours(
      messages({ work_hours_enabled: true, work_hours_start: '07:00', work_hours_end: '07:00' }),
      local('03:00'),
      ZONE,
    ),
    true,
  );
  assert.equal(inWorkHours(messages({ work_hours_enabled: false }), local('03:00'), ZONE), true);

  assert.equal(nextWorkHoursStart(day, local('12:00'), ZONE), undefined, 'inside: no wait');
  assert.equal(nextWorkHoursStart(day, local('07:30') + 15_500, ZONE), local('09:00'), 'later the same day');
  assert.equal(nextWorkHoursStart(day, local('18:00'), ZONE), local('09:00') + 24 * 3600_000, 'the next morning');
  assert.equal(nextWorkHoursStart(night, local('12:00'), ZONE), local('22:00'));
});

test('the limit: nothing until limit_value messages in the period, then a period and a second after the last', () => {
  const perHour = messages({ limit_period: 'PerHour', limit_value: 3 });
  const now = local('12:00');
  const seen: number[] = [];
  const count = (n: number, last: number | null) => (since: number) => (seen.push(since), { count: n, last });
  assert.equal(limitReleaseAt(perHour, now, count(2, now - 1000)), undefined);
  assert.equal(seen.at(-1), now - 3600_000, 'counted over the last hour');
  assert.equal(limitReleaseAt(perHour, now, count(3, now - 10 * 60_000)), now + 50 * 60_000 + 1000);
  for (const off of [
    messages({ limit_period: 'Disabled', limit_value: 3 }),
    messages({ limit_period: 'PerDay', limit_value: 0 }),
    messages({ limit_period: 'PerDay', limit_value: null }),
  ])
    assert.equal(limitReleaseAt(off, now, count(1000, now)), undefined);
});

test('the send interval: whole seconds from min to max, none without a max or with min above max', () => {
  const range = messages({ send_interval_min: 10, send_interval_max: 20 });
  assert.equal(
    sendIntervalMs(range, () => 0),
    10_000,
  );
  assert.equal(
    sendIntervalMs(range, () => 0.9999),
    20_000,
  );
  assert.equal(
    sendIntervalMs(range, () => 0.5),
    15_000,
  );
  assert.equal(
    sendIntervalMs(messages({ send_interval_min: null, send_interval_max: 5 }), () => 0),
    0,
  );
  assert.equal(
    sendIntervalMs(messages({ send_interval_min: null, send_interval_max: 5 }), () => 0.9999),
    5000,
  );
  assert.equal(
    sendIntervalMs(messages({ send_interval_min: 10, send_interval_max: null }), () => 0.5),
    0,
  );
  assert.equal(
    sendIntervalMs(messages({ send_interval_min: 10, send_interval_max: 5 }), () => 0.5),
    0,
  );
});
