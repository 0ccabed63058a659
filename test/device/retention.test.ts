import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { PURGE_BATCH, purgeInBatches, restAfterBatchMs } from '../../src/shared/retention.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';

const DAY = 24 * 60 * 60 * 1000;

/** Real timers, and a "now" the test moves: days pass at once. */
function manualClock(start = Date.UTC(2026, 0, 1)): Clock & { advance(ms: number): void } {
  let now = start;
  return { ...systemClock, now: () => now, advance: (ms) => void (now += ms) };
}

test('finished deliveries, their attempts and final messages go after their retention; pending ones stay', async () => {
  const clock = manualClock();
  // timeScale 1: the retention counts real (here: injected) days.
  const device = await startTestDevice({ clock, timeScale: 1 });
  const ok = await new TestReceiver().start();
  const failing = await new TestReceiver().start();
  failing.responder = () => 500;
  try {
    const { api } = device;
    for (const url of [`${ok.url}/ok`, `${failing.url}/failing`]) {
      assert.equal((await api.call('POST', '/webhooks', { url, event: 'sms:received' })).status, 201);
    }
    for (let n = 0; n < 10; n++) {
      assert.equal((await api.call('POST', '/sim/v1/incoming', { from: '+15550001111', text: `in ${n}` })).status, 202);
    }
    // No webhook wants sms:sent or sms:delivered: those events have no delivery at all.
    const sent = await api.call('POST', '/message', { message: 'out', phoneNumbers: ['+15550002222'] });
    assert.equal(sent.status, 202);
    await ok.waitFor(10);
    await failing.waitFor(10);
    await eventually(
      async () => (await api.call('GET', `/message/${sent.body.id}`)).body.state === 'Delivered',
      'the message delivered',
    );
    await eventually(
      async () => (await api.call('GET', '/deliveries?state=succeeded&limit=100')).body.items.length === 10,
      'ten deliveries recorded as succeeded',
    );
    const purge = () => device.context.retention.purge();

    // Within the default week nothing goes.
    clock.advance(6 * DAY);
    assert.deepEqual(await purge(), { deliveries: 0, attempts: 0, messages: 0, received: 0 });

    clock.advance(2 * DAY);
    const counts = await purge();
    assert.equal(counts.deliveries, 10, 'the succeeded deliveries');
    assert.equal(counts.attempts, 10, 'their attempts');
    assert.equal(counts.messages, 0, 'messages are kept unless messages.log_lifetime_days is set');
    assert.equal(counts.received, 0);
    assert.equal((await api.call('GET', '/deliveries?state=succeeded&limit=100')).body.items.length, 0);
    assert.equal((await api.call('GET', '/deliveries?state=pending&limit=100')).body.items.length, 10);
    assert.equal((await api.call('GET', `/message/${sent.body.id}`)).status, 200);

    // Settings: the delivery log's retention and the messages' are the user's to choose.
    assert.equal((await api.call('PATCH', '/settings', { webhooks: { log_lifetime_days: 0 } })).status, 400);
    const patched = await api.call('PATCH', '/settings', {
      webhooks: { log_lifetime_days: 1 },
      messages: { log_lifetime_days: 1 },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.webhooks.log_lifetime_days, 1);
    assert.deepEqual(await purge(), { deliveries: 0, attempts: 0, messages: 1, received: 10 });
    assert.equal((await api.call('GET', `/message/${sent.body.id}`)).status, 404);
  } finally {
    await device.cleanup();
    await ok.stop();
    await failing.stop();
  }
});

test('a purge of many rows goes in batches and leaves the newest alone', async () => {
  const clock = manualClock();
  const device = await startTestDevice({ clock, timeScale: 1 });
  const receiver = await new TestReceiver().start();
  try {
    const { api, context } = device;
    assert.equal(
      (await api.call('POST', '/webhooks', { url: `${receiver.url}/in`, event: 'sms:received' })).status,
      201,
    );
    const receive = async (count: number) => {
      for (let n = 0; n < count; n++) {
        await context.carrier.receive({ from: '+15550001111', text: `burst ${n}`, simNumber: 1 });
      }
    };
    await receive(1_200);
    await eventually(() => receiver.requests.length >= 1_200, '1,200 deliveries', 30_000);
    await eventually(() => context.outbox.countByState().succeeded === 1_200, 'all recorded', 10_000);
    clock.advance(8 * DAY);
    await receive(5);
    await eventually(() => context.outbox.countByState().succeeded === 1_205, 'the new ones recorded', 10_000);
    // The purge deletes on its own thread while the event loop takes more SMS: both write to the
    // file, and neither write fails.
    const batchesBefore = context.retention.threadBatches.count;
    const purging = context.retention.purge();
    await receive(100);
    const counts = await purging;
    assert.equal(counts.deliveries, 1_200, 'twelve batches of 100');
    assert.ok(
      context.retention.threadBatches.count - batchesBefore >= 13,
      'in batches on its thread, and one that found none',
    );
    await eventually(() => receiver.requests.length >= 1_305, 'the SMS taken meanwhile delivered', 30_000);
    await eventually(() => context.outbox.countByState().succeeded === 105, 'the newest stay', 10_000);
    const rows = context.db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number };
    assert.equal(rows.n, 105);
  } finally {
    await device.cleanup();
    await receiver.stop();
  }
});

test('a device stopped while its purge runs stops after the batch under way, and the next start purges the rest', async () => {
  const clock = manualClock();
  const dir = tempDir();
  const receiver = await new TestReceiver().start();
  try {
    const first = await startTestDevice({ clock, timeScale: 1, dataDir: dir.path });
    assert.equal(
      (await first.api.call('POST', '/webhooks', { url: `${receiver.url}/in`, event: 'sms:received' })).status,
      201,
    );
    for (let n = 0; n < 600; n++)
      await first.context.carrier.receive({ from: '+15550001111', text: `n ${n}`, simNumber: 1 });
    await eventually(() => first.context.outbox.countByState().succeeded === 600, 'all recorded', 30_000);
    clock.advance(8 * DAY);
    const purging = first.context.retention.purge();
    await first.stop({ graceMs: 1000 });
    const stopped = await purging;
    assert.ok(stopped.deliveries < 600, `${stopped.deliveries} purged before the stop`);

    const second = await startTestDevice({ clock, timeScale: 1, dataDir: dir.path });
    try {
      const rest = await second.context.retention.purge();
      assert.equal(stopped.deliveries + rest.deliveries, 600, 'every row purged once');
      assert.equal(second.context.outbox.countByState().succeeded, 0);
    } finally {
      await second.stop({ graceMs: 1000 });
    }
  } finally {
    await receiver.stop();
    dir.remove();
  }
});

test('a purge rests nine times as long as its last batch took, and at least 1 ms', async () => {
  assert.equal(restAfterBatchMs(0.05), 1, 'a short batch still rests a timer');
  assert.equal(restAfterBatchMs(2), 18);

  // Three full batches that each hold the thread 3 ms, then a short one: the rests in between
  // must be at least 27 ms each (a timer may fire up to 1 ms before its time on this clock).
  const batchMs = 3;
  const started: number[] = [];
  const ended: number[] = [];
  const sizes = [PURGE_BATCH, PURGE_BATCH, PURGE_BATCH, 7];
  const removed = await purgeInBatches(
    () => {
      started.push(performance.now());
      while (performance.now() - started.at(-1)! < batchMs);
      ended.push(performance.now());
      return sizes[started.length - 1];
    },
    () => true,
  );
  assert.equal(removed, 3 * PURGE_BATCH + 7);
  assert.equal(started.length, 4, 'it stops after the short batch');
  for (let n = 1; n < started.length; n++) {
    const rest = started[n] - ended[n - 1];
    assert.ok(rest >= 9 * batchMs - 1, `rest ${n}: ${rest.toFixed(1)} ms after a ${batchMs} ms batch`);
  }

  // keepGoing is asked before every batch: a purge stopped meanwhile runs none after the rest.
  let batches = 0;
  let open = true;
  await purgeInBatches(
    () => {
      batches++;
      open = false;
      return PURGE_BATCH;
    },
    () => open,
  );
  assert.equal(batches, 1);
});
