import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { checkEveryEvent, EVERY_EVENT_SIMS, produceEveryEvent } from '../helpers/every-event.ts';
import { EVENT_NAMES } from '../../src/protocol/index.ts';

let receiver: TestReceiver;
let dir: ReturnType<typeof tempDir>;
let device: Awaited<ReturnType<typeof startTestDevice>>;

before(async () => {
  receiver = await new TestReceiver().start();
  dir = tempDir();
  device = await startTestDevice({ dataDir: dir.path, sims: EVERY_EVENT_SIMS });
  for (const event of EVENT_NAMES) {
    const reply = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook?event=${event}`, event });
    assert.equal(reply.status, 201);
  }
});
after(async () => {
  await device.cleanup();
  dir.remove();
  await receiver.stop();
});

test('every event arrives with exactly its payload keys, the envelope and a signature the verifiers accept', async () => {
  device = await produceEveryEvent(
    device,
    async () => (device = await startTestDevice({ dataDir: dir.path, sims: EVERY_EVENT_SIMS })),
  );
  await eventually(
    () => EVENT_NAMES.every((event) => receiver.envelopes().some((e) => e.event === event)),
    'every event',
    10_000,
  );
  await device.api.call('PATCH', '/settings', { ping: { interval_seconds: null } });

  const key = (await device.api.call('GET', '/settings')).body.webhooks.signing_key as string;
  assert.ok(key.length >= 16, 'a signing key was generated');
  for (const request of receiver.requests) {
    assert.equal(request.headers['content-type'], 'application/json');
    assert.match(String(request.headers['user-agent']), /^smsgate\/\d+\.\d+\.\d+$/);
    const timestamp = String(request.headers['x-timestamp']);
    assert.match(timestamp, /^\d{10}$/);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 10, 'X-Timestamp is current Unix seconds');
    assert.equal(
      request.path,
      `/hook?event=${JSON.parse(request.rawBody).event}`,
      'each webhook got only its own event',
    );
  }
  const seen = checkEveryEvent(receiver.requests, { signingKey: key, deviceId: device.deviceId });

  const received = seen.get('sms:received')!;
  assert.equal(received.message, 'Android is always a sweet treat!');
  assert.equal(received.sender, '+66812345678');
  assert.equal(received.recipient, '+15557770001', "the receiving SIM's own number");
  assert.equal(received.simNumber, 1);
  assert.match(String(received.messageId), /^[0-9a-f]{16}$/);
  assert.equal(seen.get('sms:data-received')!.recipient, '+15557770001');

  const sent = seen.get('sms:sent')!;
  assert.equal(sent.sender, '+15557770001', "the default SIM's own number, though the message names no SIM");
  assert.equal(sent.recipient, '+15551230000');
  assert.equal(sent.partsCount, 1);
  assert.equal(seen.get('sms:delivered')!.recipient, '+15551230000');
  assert.equal(seen.get('sms:failed')!.recipient, '+15550000001');
  assert.equal(seen.get('sms:failed')!.reason, 'RESULT_ERROR_GENERIC_FAILURE');
  assert.equal(seen.get('sms:cancelled')!.recipient, '+15557650000');
  assert.equal(seen.get('mms:received')!.transactionId, 'T-every-event');
  assert.equal(seen.get('mms:downloaded')!.attachments[0].data, Buffer.from('png').toString('base64'));
  assert.deepEqual(
    seen.get('app:started')!.simCards.map((c: { phoneNumber: string }) => c.phoneNumber),
    ['+15557770001', '+15557770002'],
  );
  const health = seen.get('system:ping')!.health as { status: string; checks: Record<string, unknown> };
  assert.ok(['pass', 'warn', 'fail'].includes(health.status));
  for (const check of ['messages:failed', 'battery:level', 'connection:status', 'webhooks:queue', 'webhooks:failed']) {
    assert.ok(check in health.checks, `health has ${check}`);
  }
});

test('identical incoming texts share a messageId; different texts do not', async () => {
  const before = receiver.requests.length;
  await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'same words' });
  await device.api.call('POST', '/sim/v1/incoming', { from: '+2', text: 'same words' });
  await device.api.call('POST', '/sim/v1/incoming', { from: '+3', text: 'other words' });
  await receiver.waitFor(before + 3);
  const ids = receiver
    .envelopes()
    .slice(before)
    .filter((e) => e.event === 'sms:received')
    .map((e) => e.payload.messageId);
  assert.equal(ids.length, 3);
  assert.equal(ids[0], ids[1]);
  assert.notEqual(ids[0], ids[2]);
});

test('magic recipients fail with their documented reasons and message state follows', async () => {
  const reasons: Record<string, string> = {
    '+15550000001': 'RESULT_ERROR_GENERIC_FAILURE',
    '+1 (555) 000-0002': 'RESULT_ERROR_NO_SERVICE',
    '+15550000003': 'RESULT_ERROR_RADIO_OFF',
  };
  const sent = await device.api.call('POST', '/message', {
    message: 'x',
    phoneNumbers: [...Object.keys(reasons), '+15550000004'],
  });
  const id = sent.body.id;
  const state = await eventually(async () => {
    const s = (await device.api.call('GET', `/message/${id}`)).body;
    return s.recipients.every((r: { state: string }) => r.state !== 'Pending' && r.state !== 'Processed') ? s : null;
  }, 'all recipients handled');
  for (const r of state.recipients) {
    if (r.phoneNumber === '+15550000004') assert.equal(r.state, 'Sent', 'no delivery report ever comes for ...0004');
    else assert.deepEqual([r.state, r.error], ['Failed', reasons[r.phoneNumber]]);
  }
  const failedEvents = () => receiver.envelopes().filter((e) => e.event === 'sms:failed' && e.payload.messageId === id);
  await eventually(() => failedEvents().length === 3, 'three sms:failed');
  assert.deepEqual(
    failedEvents()
      .map((e) => e.payload.reason)
      .sort(),
    Object.values(reasons).sort(),
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(
    receiver.envelopes().filter((e) => e.event === 'sms:delivered' && e.payload.messageId === id).length,
    0,
    'no delivery report for any of these',
  );
});

test('every event, batch events too, registers on the Local API and is listed; "" and null ids get one', async () => {
  const ids: string[] = [];
  for (const [index, event] of EVENT_NAMES.entries()) {
    const reply = await device.api.call('POST', '/webhooks', {
      id: index % 2 ? '' : null,
      url: `${receiver.url}/all`,
      event,
    });
    assert.equal(reply.status, 201, `${event}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.event, event);
    assert.match(reply.body.id, /^[A-Za-z0-9_-]{21}$/, 'an id was generated');
    ids.push(reply.body.id);
  }
  const listed = (await device.api.call('GET', '/webhooks')).body as { id: string; event: string }[];
  assert.deepEqual(
    listed
      .filter((h) => ids.includes(h.id))
      .map((h) => h.event)
      .sort(),
    [...EVENT_NAMES].sort(),
  );
  for (const id of ids) assert.equal((await device.api.call('DELETE', `/webhooks/${id}`)).status, 204);
  const unknown = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/x`, event: 'sms:unknown' });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.message, /event/);
});

test('a message to a number that is never sent records only the states it reached: no Sent', async () => {
  for (const [number, reached] of [
    ['+15550000001', ['Pending', 'Processed', 'Failed']],
    ['+15550000003', ['Pending', 'Processed', 'Failed']],
    ['+15550000004', ['Pending', 'Processed', 'Sent']],
    ['+15551230077', ['Pending', 'Processed', 'Sent', 'Delivered']],
  ] as const) {
    const sent = await device.api.call('POST', '/message', { message: 'path', phoneNumbers: [number] });
    const final = reached[reached.length - 1];
    const state = await eventually(async () => {
      const s = (await device.api.call('GET', `/message/${sent.body.id}`)).body;
      return s.state === final ? s : null;
    }, `${number} reaches ${final}`);
    assert.deepEqual(Object.keys(state.states).sort(), [...reached].sort(), `${number}: ${Object.keys(state.states)}`);
  }
  // a message to a good and a never-sent number went out, to one of them: it was Sent, then Failed
  const mixed = await device.api.call('POST', '/message', {
    message: 'half',
    phoneNumbers: ['+15551230078', '+15550000002'],
  });
  const state = await eventually(async () => {
    const s = (await device.api.call('GET', `/message/${mixed.body.id}`)).body;
    return s.state === 'Failed' ? s : null;
  }, 'the mixed message fails');
  assert.ok('Sent' in state.states, 'one recipient was sent');
});
