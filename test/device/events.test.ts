import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { EVENT_NAMES } from '../../src/protocol/index.ts';

// The seed's verification algorithm, written here independently of src/: hex HMAC-SHA256 of body + timestamp.
function seedSignature(key: string, rawBody: string, timestamp: string): string {
  return createHmac('sha256', key)
    .update(rawBody + timestamp)
    .digest('hex');
}

// Exactly the keys the contract lists for each event.
// (A SIM-less message leaves simNumber out: null fields are omitted, as the app's serialiser does.)
const EXPECTED_KEYS: Record<string, string[]> = {
  'sms:received': ['messageId', 'sender', 'recipient', 'simNumber', 'phoneNumber', 'message', 'receivedAt'],
  'sms:sent': ['messageId', 'sender', 'recipient', 'phoneNumber', 'partsCount', 'sentAt'],
  'sms:delivered': ['messageId', 'sender', 'recipient', 'phoneNumber', 'deliveredAt'],
  'sms:failed': ['messageId', 'sender', 'recipient', 'phoneNumber', 'failedAt', 'reason'],
  'system:ping': ['health'],
};
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00$/; // the test device runs in Asia/Bangkok

let receiver: TestReceiver;
let device: Awaited<ReturnType<typeof startTestDevice>>;

before(async () => {
  receiver = await new TestReceiver().start();
  device = await startTestDevice();
  for (const event of Object.keys(EXPECTED_KEYS)) {
    const reply = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook?event=${event}`, event });
    assert.equal(reply.status, 201);
  }
});
after(async () => {
  await device.cleanup();
  await receiver.stop();
});

test('the SMS events and the ping arrive with exactly the contract keys, the envelope and a valid signature', async () => {
  const incoming = await device.api.call('POST', '/sim/v1/incoming', {
    from: '+66812345678',
    text: 'Android is always a sweet treat!',
    simNumber: 1,
  });
  assert.equal(incoming.status, 202);
  const sent = await device.api.call('POST', '/message', {
    message: 'hello',
    phoneNumbers: ['+15551230000', '+15550000001'],
  });
  assert.equal(sent.status, 202);
  await device.api.call('PATCH', '/settings', { ping: { interval_seconds: 1 } });

  // received + sent + delivered (first recipient) + failed (magic second recipient) + ping
  await receiver.waitFor(5, 5000);
  await device.api.call('PATCH', '/settings', { ping: { interval_seconds: null } });

  const key = (await device.api.call('GET', '/settings')).body.webhooks.signing_key as string;
  assert.ok(key.length >= 16, 'a signing key was generated');

  const seen = new Map<string, Record<string, unknown>>();
  for (const request of receiver.requests) {
    assert.equal(request.headers['content-type'], 'application/json');
    assert.match(String(request.headers['user-agent']), /^smsgate\/\d+\.\d+\.\d+$/);
    const timestamp = String(request.headers['x-timestamp']);
    assert.match(timestamp, /^\d{10}$/);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 10, 'X-Timestamp is current Unix seconds');
    assert.equal(request.headers['x-signature'], seedSignature(key, request.rawBody, timestamp));

    const envelope = JSON.parse(request.rawBody);
    assert.deepEqual(Object.keys(envelope), ['deviceId', 'event', 'id', 'payload', 'webhookId']);
    assert.equal(envelope.deviceId, device.deviceId);
    assert.match(envelope.id, /^[A-Za-z0-9_-]{21}$/);
    assert.equal(request.path, `/hook?event=${envelope.event}`, 'each webhook got only its own event');
    if (!seen.has(envelope.event)) seen.set(envelope.event, envelope.payload);
  }
  assert.deepEqual([...seen.keys()].sort(), Object.keys(EXPECTED_KEYS).sort());

  for (const [event, keys] of Object.entries(EXPECTED_KEYS)) {
    assert.deepEqual(Object.keys(seen.get(event)!).sort(), [...keys].sort(), `${event} payload keys`);
  }
  const received = seen.get('sms:received')!;
  assert.equal(received.message, 'Android is always a sweet treat!');
  assert.equal(received.sender, '+66812345678');
  assert.equal(received.phoneNumber, '+66812345678', 'deprecated phoneNumber repeats the sender');
  assert.equal(received.recipient, '+15550100001', "the receiving SIM's own number");
  assert.equal(received.simNumber, 1);
  assert.match(String(received.messageId), /^[0-9a-f]{16}$/);
  assert.match(String(received.receivedAt), TIMESTAMP);

  assert.equal(seen.get('sms:sent')!.messageId, sent.body.id);
  assert.ok(!('simNumber' in seen.get('sms:sent')!), 'the default SIM is not named: simNumber is left out');
  assert.equal(seen.get('sms:sent')!.sender, '+15550100001', "the default SIM's own number");
  assert.equal(seen.get('sms:sent')!.partsCount, 1);
  assert.match(String(seen.get('sms:sent')!.sentAt), TIMESTAMP);
  assert.equal(seen.get('sms:delivered')!.recipient, '+15551230000');
  assert.equal(seen.get('sms:delivered')!.phoneNumber, '+15551230000', 'deprecated phoneNumber repeats the recipient');
  assert.match(String(seen.get('sms:delivered')!.deliveredAt), TIMESTAMP);
  assert.equal(seen.get('sms:failed')!.recipient, '+15550000001');
  assert.equal(seen.get('sms:failed')!.reason, 'RESULT_ERROR_GENERIC_FAILURE');
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
