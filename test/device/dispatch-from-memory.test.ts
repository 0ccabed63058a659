import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';
import type { Outbox } from '../../src/device/store/outbox.ts';

/**
 * When nothing older waits in the outbox, the dispatcher sends a new delivery as `enqueue` handed it
 * out, without reading back the row it has just written. These are the cases where what it kept in
 * memory must not be used as it was, and the case where nothing should be read at all.
 */

let receiver: TestReceiver;

before(async () => {
  receiver = await new TestReceiver().start();
});
after(() => receiver.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hitsOn = (path: string) => receiver.requests.filter((r) => r.path === path).length;

/** Counts the outbox's result recordings from now on: each call is one commit. */
function countRecordCommits(outbox: Outbox): { count: number; results: number } {
  const counted = { count: 0, results: 0 };
  const recordAttempts = outbox.recordAttempts.bind(outbox);
  outbox.recordAttempts = (results, ...rest) => {
    counted.count++;
    counted.results += results.length;
    return recordAttempts(results, ...rest);
  };
  return counted;
}

test('an attempt that waits for its answer does not make the dispatcher read the outbox again and again', async () => {
  const device = await startTestDevice();
  try {
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/slow`, event: 'sms:received' });
    // the first SMS goes the whole way, so that the dispatcher is past its start-up reads
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'first' });
    await receiver.waitFor(1, 5000);
    await eventually(
      async () => (await device.api.call('GET', '/deliveries?state=succeeded')).body.items.length === 1,
      'the first delivery recorded',
    );

    const { outbox } = device.context;
    let reads = 0;
    const count =
      <A extends unknown[], R>(fn: (...args: A) => R) =>
      (...args: A): R => {
        reads++;
        return fn(...args);
      };
    outbox.duePage = count(outbox.duePage.bind(outbox));
    outbox.nextDueAfter = count(outbox.nextDueAfter.bind(outbox));

    receiver.responder = async () => {
      await sleep(400);
      return 200;
    };
    const before = receiver.requests.length;
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'answered slowly' });
    await receiver.waitFor(before + 1, 5000);
    const readsWhileWaiting = reads;
    await sleep(300); // the answer is still on its way
    assert.ok(
      reads - readsWhileWaiting <= 2,
      `the outbox was read ${reads - readsWhileWaiting} times in 300 ms while one attempt waited for its answer`,
    );
    await eventually(
      async () => (await device.api.call('GET', '/deliveries?state=succeeded')).body.items.length === 2,
      'the slow delivery recorded',
    );
  } finally {
    receiver.responder = () => 200;
    await device.cleanup();
  }
});

test('a delivery cancelled in the same turn as it was committed is never sent', async () => {
  const device = await startTestDevice();
  try {
    const kept = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/kept-a`, event: 'sms:received' });
    const doomed = await device.api.call('POST', '/webhooks', {
      url: `${receiver.url}/doomed-a`,
      event: 'sms:received',
    });
    assert.equal(doomed.status, 201, 'the webhook was registered');
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'warm-up' });
    await eventually(() => hitsOn('/kept-a') === 1 && hitsOn('/doomed-a') === 1, 'the warm-up delivered to both');

    // Committed (and handed to the dispatcher), then its webhook deleted before the dispatcher runs.
    const { carrier, webhooks, clock } = device.context;
    const received = await carrier.receive({ from: '+15550100', text: 'cancelled before it went', simNumber: 1 });
    webhooks.remove('Local', doomed.body.id, clock.now());

    await eventually(() => hitsOn('/kept-a') === 2, 'the other webhook got the SMS');
    await sleep(200);
    assert.equal(hitsOn('/doomed-a'), 1, 'the delivery to the deleted webhook was not sent');
    const states = await Promise.all(
      received.deliveryIds.map(async (id) => (await device.api.call('GET', `/deliveries/${id}`)).body.state),
    );
    assert.deepEqual(states.sort(), ['cancelled', 'succeeded'], 'one delivery cancelled, the other sent');
    assert.equal(kept.status, 201, 'the other webhook was registered');
  } finally {
    await device.cleanup();
  }
});

test('an event recorded in a transaction that rolls back is never sent', async () => {
  const device = await startTestDevice();
  try {
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/rolled-back`, event: 'sms:received' });
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'warm-up' });
    await eventually(() => hitsOn('/rolled-back') === 1, 'the warm-up delivered');

    const { db, events } = device.context;
    assert.throws(
      () =>
        db.transaction(() => {
          // emit flushes at once, inside the transaction: its delivery must wait for the commit
          events.emit('sms:received', {
            messageId: 'never-committed',
            message: 'rolled back',
            phoneNumber: '+15550100',
            sender: '+15550100',
            simNumber: 1,
            receivedAt: '2026-01-01T00:00:00.000+07:00',
          });
          throw new Error('the caller failed after the event');
        })(),
      /the caller failed/,
      'the transaction failed',
    );
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'after' });
    await eventually(() => hitsOn('/rolled-back') === 2, 'the committed SMS delivered');
    await sleep(200);
    assert.equal(hitsOn('/rolled-back'), 2, 'only the committed events were sent');
    assert.ok(
      receiver.requests.every((r) => !r.rawBody.includes('never-committed')),
      'the rolled-back event never reached the receiver',
    );
  } finally {
    await device.cleanup();
  }
});

test('results that finish a few ms apart, while nothing waits, are recorded together', async () => {
  const device = await startTestDevice();
  try {
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/trickle`, event: 'sms:received' });
    const { outbox, carrier } = device.context;
    const commits = countRecordCommits(outbox);
    // one SMS a millisecond, each answered at once: a steady trickle
    for (let i = 0; i < 20; i++) {
      await carrier.receive({ from: '+15550100', text: `trickle ${i}`, simNumber: 1 });
      await sleep(1);
    }
    await eventually(() => commits.results === 20, 'every result recorded');
    assert.ok(commits.count <= 12, `20 results took ${commits.count} commits`);
    const succeeded = (await device.api.call('GET', '/deliveries?state=succeeded&limit=100')).body.items.length;
    assert.equal(succeeded, 20, 'every delivery is recorded as succeeded');
  } finally {
    await device.cleanup();
  }
});

test('under load a finished attempt frees its slot at once and its result shares a commit with others', async () => {
  // one attempt at a time to the receiver: each next one waited for the record of the one before
  const device = await startTestDevice({ concurrency: 2, perReceiverLimit: 1 });
  try {
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/one-slot`, event: 'sms:received' });
    const { outbox, carrier, network } = device.context;
    network.set(false); // a backlog first, so that deliveries always wait for the one slot
    const sms = [];
    for (let i = 0; i < 200; i++) sms.push(carrier.receive({ from: '+15550100', text: `backlog ${i}`, simNumber: 1 }));
    await Promise.all(sms);
    const commits = countRecordCommits(outbox);
    network.set(true);
    await eventually(() => commits.results === 200, 'every result recorded', 10_000);
    assert.equal(hitsOn('/one-slot'), 200, 'each delivery sent once');
    assert.ok(commits.count <= 100, `200 results, sent one at a time, took ${commits.count} commits`);
    const succeeded = (await device.api.call('GET', '/deliveries?state=succeeded&limit=500')).body.items.length;
    assert.equal(succeeded, 200, 'every delivery is recorded as succeeded');
  } finally {
    await device.cleanup();
  }
});

test('a delivery written to the outbox without being handed to the dispatcher is still sent at its next wake', async () => {
  const device = await startTestDevice();
  try {
    const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/direct`, event: 'sms:received' });
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'warm-up' });
    await eventually(() => hitsOn('/direct') === 1, 'the warm-up delivered');

    // written straight into the outbox, as a bulk import would: nothing tells the dispatcher what it holds
    const { outbox, dispatcher, clock } = device.context;
    outbox.enqueue(
      'sms:received',
      {
        messageId: 'direct',
        message: 'written directly',
        phoneNumber: '+15550100',
        sender: '+15550100',
        receivedAt: 'now',
      },
      [{ source: 'Local', webhookId: hook.body.id, url: `${receiver.url}/direct`, envelopeDeviceId: device.deviceId }],
      clock.now(),
    );
    const wokenAt = Date.now();
    dispatcher.wake();
    // well before the 5 s safety poll
    await eventually(() => hitsOn('/direct') === 2, 'the delivery written directly', 2000);
    assert.ok(Date.now() - wokenAt < 2000, 'sent at the wake, not at the safety poll');
  } finally {
    await device.cleanup();
  }
});
