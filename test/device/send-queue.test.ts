import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { jumpingClock } from '../helpers/clock.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
// Monday 2 March 2026, 19:00 in Asia/Bangkok (UTC+7, the test devices' zone)
const MONDAY_7PM = Date.UTC(2026, 2, 2, 12, 0);

type TestDevice = Awaited<ReturnType<typeof startTestDevice>>;

/** A device on a clock the test moves, with a receiver of its sms:sent events. */
async function setUp(options: { simCount?: number } = {}) {
  const clock = jumpingClock(MONDAY_7PM);
  const device = await startTestDevice({ clock, ...options });
  const receiver = await new TestReceiver().start();
  const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/sent`, event: 'sms:sent' });
  assert.equal(hook.status, 201);
  return {
    clock,
    device,
    receiver,
    sent: () => receiver.envelopes().filter((e) => e.event === 'sms:sent'),
    async cleanup() {
      await device.cleanup();
      await receiver.stop();
    },
  };
}

async function send(device: TestDevice, text: string, extra: Record<string, unknown> = {}): Promise<string> {
  const reply = await device.api.call('POST', '/message', {
    textMessage: { text },
    phoneNumbers: ['+15550002222'],
    ...extra,
  });
  assert.equal(reply.status, 202, JSON.stringify(reply.body));
  return reply.body.id;
}

const state = async (device: TestDevice, id: string) => (await device.api.call('GET', `/message/${id}`)).body;

const untilSent = (device: TestDevice, id: string) =>
  eventually(async () => ['Sent', 'Delivered'].includes((await state(device, id)).state), `message ${id} sent`);

/** Real time for the queue to act if it were going to: it must not have. */
const settle = () => new Promise((r) => setTimeout(r, 300));

test('outside the work hours a message waits, Pending, and goes when they open', async () => {
  const t = await setUp();
  try {
    const { device, clock } = t;
    const patched = await device.api.call('PATCH', '/settings', {
      messages: { work_hours_enabled: true, work_hours_start: '09:00', work_hours_end: '18:00' },
    });
    assert.equal(patched.status, 200);
    const id = await send(device, 'after hours');
    await settle();
    assert.equal((await state(device, id)).state, 'Pending');
    assert.equal(t.sent().length, 0);

    // 08:59 the next morning: still closed
    clock.advance(13 * HOUR + 59 * MINUTE);
    await settle();
    assert.equal((await state(device, id)).state, 'Pending');

    clock.advance(MINUTE);
    await untilSent(device, id);
    await t.receiver.waitFor(1);
    const [event] = t.sent();
    assert.match(String(event.payload.sentAt), /^2026-03-03T09:00:\d\d\.\d{3}\+07:00$/, 'sent at the opening');

    // An overnight window (22:00–06:00) is open at 09:00? No: the message waits until 22:00.
    await device.api.call('PATCH', '/settings', { messages: { work_hours_start: '22:00', work_hours_end: '06:00' } });
    const night = await send(device, 'night owl');
    await settle();
    assert.equal((await state(device, night)).state, 'Pending');
    clock.advance(13 * HOUR);
    await untilSent(device, night);

    // Switched off, the work hours hold nothing back.
    await device.api.call('PATCH', '/settings', {
      messages: { work_hours_start: '01:00', work_hours_end: '02:00' },
    });
    const held = await send(device, 'held');
    await settle();
    assert.equal((await state(device, held)).state, 'Pending');
    await device.api.call('PATCH', '/settings', { messages: { work_hours_enabled: false } });
    await untilSent(device, held);
  } finally {
    await t.cleanup();
  }
});

test('limit_value messages per limit_period: the next ones wait (not fail) until a period after the last', async () => {
  const t = await setUp();
  try {
    const { device, clock } = t;
    await device.api.call('PATCH', '/settings', { messages: { limit_period: 'PerMinute', limit_value: 2 } });
    const first = await send(device, 'one');
    await untilSent(device, first);
    const second = await send(device, 'two');
    await untilSent(device, second);
    const third = await send(device, 'three');
    const fourth = await send(device, 'four');
    await settle();
    for (const id of [third, fourth]) assert.equal((await state(device, id)).state, 'Pending');

    // real time passes too: the checks of what still waits keep seconds of margin
    clock.advance(55 * SECOND);
    await settle();
    assert.equal((await state(device, third)).state, 'Pending', 'within the minute');

    clock.advance(7 * SECOND); // past a minute and a second after the second message
    await untilSent(device, third);
    await untilSent(device, fourth);
    // Disabled turns the limit off.
    await device.api.call('PATCH', '/settings', { messages: { limit_period: 'Disabled' } });
    for (const text of ['a', 'b', 'c']) await untilSent(device, await send(device, text));
  } finally {
    await t.cleanup();
  }
});

test('send_interval_min/max: whole seconds between two messages, drawn within the range', async () => {
  const t = await setUp();
  try {
    const { device, clock } = t;
    await device.api.call('PATCH', '/settings', { messages: { send_interval_min: 60, send_interval_max: 60 } });
    const first = await send(device, 'one');
    await untilSent(device, first);
    const second = await send(device, 'two');
    await settle();
    assert.equal((await state(device, second)).state, 'Pending');
    // real time passes too: the checks of what still waits keep seconds of margin
    clock.advance(55 * SECOND);
    await settle();
    assert.equal((await state(device, second)).state, 'Pending');
    clock.advance(5 * SECOND);
    await untilSent(device, second);

    await device.api.call('PATCH', '/settings', { messages: { send_interval_min: 20, send_interval_max: 40 } });
    clock.advance(60 * SECOND); // the pause after `second`
    const third = await send(device, 'three');
    await untilSent(device, third);
    const fourth = await send(device, 'four');
    clock.advance(15 * SECOND);
    await settle();
    assert.equal((await state(device, fourth)).state, 'Pending', 'at least the minimum');
    clock.advance(25 * SECOND); // at most the maximum
    await untilSent(device, fourth);

    // No maximum: no pause (as in the app).
    await device.api.call('PATCH', '/settings', { messages: { send_interval_min: 10, send_interval_max: null } });
    clock.advance(40 * SECOND);
    const fifth = await send(device, 'five');
    await untilSent(device, fifth);
    await untilSent(device, await send(device, 'six'));
  } finally {
    await t.cleanup();
  }
});

test('processing_order: LIFO sends the newest waiting message first, FIFO the oldest', async () => {
  const t = await setUp();
  try {
    const { device, clock } = t;
    for (const order of ['LIFO', 'FIFO'] as const) {
      await device.api.call('PATCH', '/settings', {
        messages: {
          processing_order: order,
          work_hours_enabled: true,
          work_hours_start: '09:00',
          work_hours_end: '18:00',
        },
      });
      const ids: string[] = [];
      for (const n of [1, 2, 3]) ids.push(await send(device, `${order} ${n}`));
      await settle();
      await device.api.call('PATCH', '/settings', { messages: { work_hours_enabled: false } });
      for (const id of ids) await untilSent(device, id);
      const sentAt = await Promise.all(ids.map(async (id) => Date.parse((await state(device, id)).states.Sent)));
      const expected = order === 'LIFO' ? [...ids].reverse() : ids;
      const actual = [...ids].sort((a, b) => sentAt[ids.indexOf(a)] - sentAt[ids.indexOf(b)]);
      assert.deepEqual(actual, expected, order);
      clock.advance(MINUTE);
    }
  } finally {
    await t.cleanup();
  }
});

test('sim_selection_mode picks the SIM of a message that names none; a named SIM is kept', async () => {
  const t = await setUp({ simCount: 2 });
  try {
    const { device } = t;
    const simOf = async (id: string) => {
      await untilSent(device, id);
      return (await eventually(() => t.sent().find((e) => e.payload.messageId === id), `sms:sent of ${id}`)).payload
        .simNumber;
    };

    assert.equal(await simOf(await send(device, 'default')), undefined, 'OSDefault: the phone chooses');

    await device.api.call('PATCH', '/settings', { messages: { sim_selection_mode: 'RoundRobin' } });
    const turns: unknown[] = [];
    for (const n of [1, 2, 3, 4]) turns.push(await simOf(await send(device, `turn ${n}`)));
    assert.deepEqual(turns, [1, 2, 1, 2], 'by turns, counted by message');
    assert.equal(await simOf(await send(device, 'named', { simNumber: 1 })), 1);
    assert.equal(await simOf(await send(device, 'named', { simNumber: 1 })), 1);

    await device.api.call('PATCH', '/settings', { messages: { sim_selection_mode: 'Random' } });
    const drawn = new Set<unknown>();
    for (let n = 0; n < 16; n++) drawn.add(await simOf(await send(device, `random ${n}`)));
    assert.deepEqual([...drawn].sort(), [1, 2], 'either SIM, both in 16 draws');
  } finally {
    await t.cleanup();
  }
});

test('settings that contradict each other are refused with a message', async () => {
  const t = await setUp();
  try {
    const { device } = t;
    assert.equal((await device.api.call('PATCH', '/settings', { messages: { send_interval_max: 5 } })).status, 200);
    const refused = await device.api.call('PATCH', '/settings', { messages: { send_interval_min: 10 } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /send_interval_min \(10\) is greater than messages.send_interval_max \(5\)/);
    const put = await device.api.call('PUT', '/settings', { messages: { send_interval_min: 3, send_interval_max: 2 } });
    assert.equal(put.status, 400);
    const tooMany = await device.api.call('PATCH', '/settings', { messages: { limit_value: 100_001 } });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.message, /limit_value/);
    const settings = (await device.api.call('GET', '/settings')).body.messages;
    assert.deepEqual([settings.send_interval_min, settings.send_interval_max, settings.limit_value], [null, 5, null]);
  } finally {
    await t.cleanup();
  }
});

test('priority: higher goes first; from 100 on a message goes ahead of the send interval and the limit', async () => {
  const t = await setUp();
  try {
    const { device, clock } = t;
    await device.api.call('PATCH', '/settings', {
      messages: {
        processing_order: 'FIFO',
        work_hours_enabled: true,
        work_hours_start: '09:00',
        work_hours_end: '18:00',
      },
    });
    const low = await send(device, 'low', { priority: -5 });
    const normal = await send(device, 'normal');
    const high = await send(device, 'high', { priority: 10 });
    await settle();
    await device.api.call('PATCH', '/settings', { messages: { work_hours_enabled: false } });
    const ids = [low, normal, high];
    for (const id of ids) await untilSent(device, id);
    const sentAt = new Map(
      await Promise.all(ids.map(async (id) => [id, Date.parse((await state(device, id)).states.Sent)] as const)),
    );
    assert.deepEqual(
      [...ids].sort((a, b) => sentAt.get(a)! - sentAt.get(b)!),
      [high, normal, low],
    );

    // A minute between messages, and one message a minute.
    await device.api.call('PATCH', '/settings', {
      messages: { send_interval_min: 60, send_interval_max: 60, limit_period: 'PerMinute', limit_value: 1 },
    });
    clock.advance(2 * MINUTE);
    const first = await send(device, 'first');
    await untilSent(device, first);
    const waiting = await send(device, 'waiting', { priority: 99 });
    const urgent = await send(device, 'urgent', { priority: 100 });
    await untilSent(device, urgent);
    assert.equal((await state(device, waiting)).state, 'Pending', '99 is not expedited');
    // A higher one right after it goes ahead too; the same priority again is paced like any other.
    const urgentToo = await send(device, 'urgent too', { priority: 127 });
    await untilSent(device, urgentToo);
    const third = await send(device, 'urgent three', { priority: 127 });
    await settle();
    assert.equal((await state(device, third)).state, 'Pending', 'after 127, another 127 waits');
    clock.advance(MINUTE + 2 * SECOND);
    await untilSent(device, third);
    await settle();
    assert.equal((await state(device, waiting)).state, 'Pending', 'a minute after the last one again');
    clock.advance(MINUTE + 2 * SECOND);
    await untilSent(device, waiting);
  } finally {
    await t.cleanup();
  }
});

test('ttl and validUntil: a message not sent by then fails with the reason, at that time, even while it waits', async () => {
  const t = await setUp();
  try {
    const { device, clock, receiver } = t;
    const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/failed`, event: 'sms:failed' });
    assert.equal(hook.status, 201);
    const failures = () => receiver.envelopes().filter((e) => e.event === 'sms:failed');

    // ttl 0: never sent, whatever the timing.
    const none = await send(device, 'no time at all', { ttl: 0, phoneNumbers: ['+15550002222', '+15550003333'] });
    const failed = await eventually(async () => {
      const s = await state(device, none);
      return s.state === 'Failed' && s;
    }, 'the ttl 0 message failed');
    assert.deepEqual(
      failed.recipients.map((r: { state: string; error: string }) => [r.state, r.error]),
      [
        ['Failed', 'TTL expired'],
        ['Failed', 'TTL expired'],
      ],
    );
    assert.equal(failed.states.Sent, undefined);
    await eventually(() => failures().length === 2, 'two sms:failed');
    assert.deepEqual(
      failures().map((e) => e.payload.reason),
      ['TTL expired', 'TTL expired'],
    );

    // Waiting for the work hours: a ttl of a minute runs out while the message waits.
    await device.api.call('PATCH', '/settings', {
      messages: { work_hours_enabled: true, work_hours_start: '09:00', work_hours_end: '18:00' },
    });
    const minute = await send(device, 'a minute', { ttl: 60 });
    const hour = await send(device, 'an hour', { validUntil: new Date(clock.now() + HOUR).toISOString() });
    const tomorrow = await send(device, 'till noon', { validUntil: '2026-03-03T12:00:00+07:00' });
    // real time passes too: the check of what still waits keeps seconds of margin
    clock.advance(50 * SECOND);
    await settle();
    assert.equal((await state(device, minute)).state, 'Pending');
    clock.advance(10 * SECOND);
    await eventually(async () => (await state(device, minute)).state === 'Failed', 'failed at its minute');
    assert.equal((await state(device, hour)).state, 'Pending');
    clock.advance(HOUR);
    await eventually(async () => (await state(device, hour)).state === 'Failed', 'failed at its hour');
    // 09:00 the next morning: the one still valid goes.
    clock.advance(13 * HOUR);
    await untilSent(device, tomorrow);
    assert.equal(failures().length, 4);
  } finally {
    await t.cleanup();
  }
});

test('scheduleAt: a message is held until then, while the others go; then it is sent', async () => {
  const t = await setUp();
  try {
    const { device, clock } = t;
    const at = new Date(clock.now() + 2 * HOUR).toISOString();
    const later = await send(device, 'later', { scheduleAt: at, priority: 50 });
    const now = await send(device, 'now');
    await untilSent(device, now);
    assert.equal((await state(device, later)).state, 'Pending');
    clock.advance(2 * HOUR - MINUTE);
    await settle();
    assert.equal((await state(device, later)).state, 'Pending');
    clock.advance(MINUTE);
    await untilSent(device, later);
    const sentAt = Date.parse((await state(device, later)).states.Sent);
    assert.ok(sentAt >= Date.parse(at), `sent at ${sentAt}, scheduled for ${at}`);

    // One that expires before its time fails then.
    const never = await send(device, 'never', {
      scheduleAt: new Date(clock.now() + HOUR).toISOString(),
      validUntil: new Date(clock.now() + MINUTE).toISOString(),
    });
    clock.advance(MINUTE);
    await eventually(async () => (await state(device, never)).state === 'Failed', 'expired before its time');
  } finally {
    await t.cleanup();
  }
});

test('an error in the send queue is logged, the device goes on, and the queue tries again', async () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  const clock = jumpingClock(MONDAY_7PM);
  const device = await startTestDevice({ clock, logger: pino({ level: 'error' }, destination) });
  try {
    // one failing read, as a full disk or an I/O error would make it
    const store = device.context.messageStore;
    const nextToSend = store.nextToSend.bind(store);
    let failures = 1;
    store.nextToSend = (...args) => {
      if (failures-- > 0) throw new Error('disk I/O error');
      return nextToSend(...args);
    };
    const id = await send(device, 'despite it all');
    await eventually(() => lines.some((l) => l.includes('the send queue failed; it tries again')), 'the error logged');
    assert.equal((await state(device, id)).state, 'Pending');
    clock.advance(5 * SECOND);
    await untilSent(device, id);
  } finally {
    await device.cleanup();
  }
});
