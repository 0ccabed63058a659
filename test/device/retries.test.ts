import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';

// 0.01: the documented 10 s, 20 s, 40 s ... become 100 ms, 200 ms, 400 ms ...
const SCALE = 0.01;
// The timing test runs slower (500 ms, 1 s, 2 s, 4 s) so that 10% is well above scheduling noise.
const TIMING_SCALE = 0.05;

let device: Awaited<ReturnType<typeof startTestDevice>>;
before(async () => {
  device = await startTestDevice({ timeScale: SCALE });
});
after(() => device.cleanup());

async function hookTo(receiver: TestReceiver, event = 'sms:received', on = device) {
  const reply = await on.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event });
  assert.equal(reply.status, 201);
  return reply.body.id as string;
}

test('500 four times then 200: five attempts, same id, at 10/20/40/80 s on the scaled clock', async () => {
  const receiver = await new TestReceiver().start();
  receiver.responder = (_r, index) => (index < 4 ? 500 : 200);
  const device = await startTestDevice({ timeScale: TIMING_SCALE });
  await hookTo(receiver, 'sms:received', device);
  try {
    const { body } = await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'retry me' });
    const [deliveryId] = body.deliveryIds;
    await receiver.waitFor(5, 15_000);
    await eventually(
      async () => (await device.api.call('GET', `/deliveries/${deliveryId}`)).body.state === 'succeeded',
      'succeeded',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 5, 'exactly five attempts');

    const ids = receiver.envelopes().map((e) => e.id);
    assert.deepEqual(new Set(ids), new Set([deliveryId]), 'the same delivery id on every attempt');
    const log = (await device.api.call('GET', `/deliveries/${deliveryId}`)).body;
    assert.deepEqual(
      log.attemptLog.map((a: { status: number }) => a.status),
      [500, 500, 500, 500, 200],
    );
    assert.deepEqual(
      log.attemptLog.map((a: { number: number }) => a.number),
      [1, 2, 3, 4, 5],
    );

    // The schedule, as the device kept it: each retry starts 10/20/40/80 s (scaled) after the
    // previous attempt failed, within 10%, never earlier.
    const expected = [10_000, 20_000, 40_000, 80_000].map((ms) => ms * TIMING_SCALE);
    const attempts = log.attemptLog.map((a: { startedAt: string; durationMs: number }) => ({
      start: Date.parse(a.startedAt),
      duration: a.durationMs,
    }));
    attempts.slice(1).forEach((attempt: { start: number }, i: number) => {
      const gap = attempt.start - (attempts[i].start + attempts[i].duration);
      assert.ok(
        gap >= expected[i] && gap <= expected[i] * 1.1,
        `retry ${i + 1} ${gap} ms after the failure, expected ${expected[i]} ms (+10%)`,
      );
    });
    // And the receiver saw them arrive no faster than that.
    const arrivals = receiver.requests.map((r) => r.receivedAt);
    arrivals
      .slice(1)
      .forEach((at, i) => assert.ok(at - arrivals[i] >= expected[i] * 0.9, `arrival ${i + 2} came early`));
    for (const attempt of log.attemptLog) {
      assert.equal(typeof attempt.durationMs, 'number');
      assert.match(attempt.startedAt, /^\d{4}-/);
    }
    assert.equal(log.attemptLog[0].responsePreview, 'nope');
  } finally {
    await device.cleanup();
    await receiver.stop();
  }
});

test('retry_count=3: exactly four attempts, then the delivery is failed for good', async () => {
  const receiver = await new TestReceiver().start();
  receiver.responder = () => 503;
  const hookId = await hookTo(receiver);
  await device.api.call('PATCH', '/settings', { webhooks: { retry_count: 3 } });
  try {
    const { body } = await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'give up' });
    const [deliveryId] = body.deliveryIds;
    const final = await eventually(
      async () => {
        const d = (await device.api.call('GET', `/deliveries/${deliveryId}`)).body;
        return d.state === 'failed' ? d : null;
      },
      'failed for good',
      5000,
    );
    await new Promise((r) => setTimeout(r, 1000)); // longer than the next retry would have been
    assert.equal(receiver.requests.length, 4);
    assert.equal(final.attemptLog.length, 4);
    assert.equal(final.lastError, 'HTTP 503');

    const failedList = (await device.api.call('GET', '/deliveries?state=failed')).body;
    assert.ok(failedList.items.some((d: { id: string }) => d.id === deliveryId));
    const health = (await device.api.call('GET', '/health')).body;
    assert.ok(health.checks['webhooks:failed'].observedValue >= 1);

    // Redeliver gives it a fresh budget and sends it at once.
    receiver.responder = () => 200;
    const redeliver = await device.api.call('POST', `/deliveries/${deliveryId}/redeliver`);
    assert.equal(redeliver.status, 202);
    await receiver.waitFor(5);
    await eventually(
      async () => (await device.api.call('GET', `/deliveries/${deliveryId}`)).body.state === 'succeeded',
      'redelivered',
    );
    assert.equal(receiver.envelopes()[4].id, deliveryId);
  } finally {
    await device.api.call('PATCH', '/settings', { webhooks: { retry_count: 14 } });
    await device.api.call('DELETE', `/webhooks/${hookId}`);
    await receiver.stop();
  }
});

test('offline with internet_required: deliveries wait without spending attempts, then go', async () => {
  const receiver = await new TestReceiver().start();
  const hookId = await hookTo(receiver);
  try {
    await device.api.call('POST', '/sim/v1/network', { online: false });
    const { body } = await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'wait for me' });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(receiver.requests.length, 0, 'nothing sent while offline');
    const waiting = (await device.api.call('GET', `/deliveries/${body.deliveryIds[0]}`)).body;
    assert.deepEqual([waiting.state, waiting.attempts], ['pending', 0]);

    // internet_required=false: a LAN endpoint is served without internet.
    await device.api.call('PATCH', '/settings', { webhooks: { internet_required: false } });
    await receiver.waitFor(1, 3000);
    await device.api.call('PATCH', '/settings', { webhooks: { internet_required: true } });

    await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'second' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 1, 'offline again with internet required: waits');
    await device.api.call('POST', '/sim/v1/network', { online: true });
    await receiver.waitFor(2, 3000);
  } finally {
    await device.api.call('POST', '/sim/v1/network', { online: true });
    await device.api.call('DELETE', `/webhooks/${hookId}`);
    await receiver.stop();
  }
});
