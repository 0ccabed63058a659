import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { eventually, type startTestDevice } from './device.ts';
import type { ReceivedRequest } from './receiver.ts';
import { verifySignatureSeed } from './seed-verifier.ts';
import { EVENT_NAMES, PAYLOAD_SCHEMAS, type EventName } from '../../src/protocol/index.ts';
import { parseWebhook, verifyWebhook } from '../../src/receiver/index.ts';

type Device = Awaited<ReturnType<typeof startTestDevice>>;

const SMS_KEYS = ['messageId', 'sender', 'recipient', 'simNumber', 'phoneNumber'];
/** An outgoing message that names no SIM goes out on SIM 1 and leaves simNumber out. */
const UNNAMED_SIM_KEYS = ['messageId', 'sender', 'recipient', 'phoneNumber'];
const MMS_RECEIVED_KEYS = [...SMS_KEYS, 'transactionId', 'subject', 'size', 'contentClass', 'receivedAt'];
const MMS_DOWNLOADED_KEYS = [...SMS_KEYS, 'body', 'subject', 'attachments', 'receivedAt'];

/**
 * Exactly the payload keys of each event that `produceEveryEvent` makes happen (written out here,
 * not derived from src/): every SIM has a number and a carrier, every optional field of the incoming messages
 * is given; the message sent names no SIM, the cancelled one names SIM 1.
 */
export const EVERY_EVENT_KEYS: Record<EventName, string[]> = {
  'sms:received': [...SMS_KEYS, 'message', 'receivedAt'],
  'sms:data-received': [...SMS_KEYS, 'data', 'receivedAt'],
  'sms:sent': [...UNNAMED_SIM_KEYS, 'partsCount', 'sentAt'],
  'sms:delivered': [...UNNAMED_SIM_KEYS, 'deliveredAt'],
  'sms:failed': [...UNNAMED_SIM_KEYS, 'failedAt', 'reason'],
  'sms:cancelled': [...SMS_KEYS, 'cancelledAt'],
  'mms:received': MMS_RECEIVED_KEYS,
  'mms:downloaded': MMS_DOWNLOADED_KEYS,
  'system:ping': ['health'],
  'app:started': ['simCards'],
  'sms:batch:received': ['messages'],
  'sms:batch:data-received': ['messages'],
  'mms:batch:received': ['messages'],
  'mms:batch:downloaded': ['messages'],
};
/** What each batch event carries: the payloads of this single event. */
const BATCH_OF: Partial<Record<EventName, EventName>> = {
  'sms:batch:received': 'sms:received',
  'sms:batch:data-received': 'sms:data-received',
  'mms:batch:received': 'mms:received',
  'mms:batch:downloaded': 'mms:downloaded',
};
const ATTACHMENT_KEYS = ['partId', 'contentType', 'name', 'size', 'data'];
const SIM_CARD_KEYS = ['slotIndex', 'simNumber', 'phoneNumber', 'carrierName', 'iccid'];
/** ISO 8601 with milliseconds and the offset of the test devices' zone (Asia/Bangkok). */
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00$/;

export const EVERY_EVENT_SIMS = [
  { phoneNumber: '+15557770001', carrierName: 'Test Mobile' },
  { phoneNumber: '+15557770002', carrierName: 'Other Net' },
];

/**
 * Make every event happen once on a device whose SIM 1 has a number and a carrier and whose webhooks
 * (Local or Cloud) already subscribe to all of them, and return the device: `restart` starts it again
 * on the same data (for app:started), and should keep the new device where the caller's cleanup finds
 * it, should a check here fail.
 */
export async function produceEveryEvent(device: Device, restart: () => Promise<Device>): Promise<Device> {
  const since = new Date().toISOString();
  const call = async (method: string, path: string, body?: unknown, status = 202) => {
    const reply = await device.api.call(method, path, body);
    assert.equal(reply.status, status, `${method} ${path}: ${JSON.stringify(reply.body)}`);
    return reply.body;
  };
  await device.stop({ graceMs: 1000 });
  device = await restart();

  await call('POST', '/sim/v1/incoming', {
    from: '+66812345678',
    text: 'Android is always a sweet treat!',
    simNumber: 1,
  });
  await call('POST', '/sim/v1/incoming', {
    type: 'DATA_SMS',
    from: '+66812345679',
    data: 'AQID',
    port: 9200,
    simNumber: 1,
  });
  await call('POST', '/sim/v1/incoming', {
    type: 'MMS',
    from: '+66812345670',
    simNumber: 1,
    subject: 'beach',
    body: 'look',
    transactionId: 'T-every-event',
    contentClass: 'IMAGE_BASIC',
    attachments: [{ contentType: 'image/png', name: 'a.png', data: Buffer.from('png').toString('base64') }],
  });
  await call('POST', '/message', { message: 'hello', phoneNumbers: ['+15551230000', '+15550000001'] });

  // outside the work hours a message waits, Pending, and can be cancelled
  await call(
    'PATCH',
    '/settings',
    { messages: { work_hours_enabled: true, work_hours_start: '00:00', work_hours_end: '00:01' } },
    200,
  );
  const waiting = await call('POST', '/messages', {
    textMessage: { text: 'never' },
    phoneNumbers: ['+15557650000'],
    simNumber: 1,
  });
  await call('DELETE', `/messages/${waiting.id}`, undefined, 200);
  await call('PATCH', '/settings', { messages: { work_hours_enabled: false } }, 200);

  await eventually(
    async () => (await device.api.call('GET', '/inbox?type=MMS_DOWNLOADED')).body.length >= 1,
    'the MMS download',
  );
  const refresh = await call('POST', '/inbox/refresh', {
    since,
    until: new Date(Date.now() + 60_000).toISOString(),
    messageTypes: ['SMS', 'DATA_SMS', 'MMS', 'MMS_DOWNLOADED'],
    webhookDelivery: 'Batch',
  });
  assert.deepEqual([refresh.messages, refresh.events], [4, 4]);

  await call('PATCH', '/settings', { ping: { interval_seconds: 1 } }, 200);
  return device;
}

/**
 * Every request the receiver got: signed with the device's key (the seed's verifier and the
 * receiver SDK's both accept it), parsed by the SDK, from this device id. Returns each event's
 * first payload, after checking its exact keys, its schema and its timestamps.
 */
export function checkEveryEvent(
  requests: readonly ReceivedRequest[],
  expect: { signingKey: string; deviceId: string },
): Map<EventName, Record<string, any>> {
  const seen = new Map<EventName, Record<string, any>>();
  for (const request of requests) {
    const timestamp = String(request.headers['x-timestamp']);
    const signature = String(request.headers['x-signature']);
    assert.ok(verifySignatureSeed(expect.signingKey, request.rawBody, timestamp, signature), "the seed's verifier");
    const check = verifyWebhook(expect.signingKey, request.rawBody, request.headers);
    assert.ok(check.ok, `the receiver SDK: ${JSON.stringify(check)}`);
    const parsed = parseWebhook(request.rawBody);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
    const envelope = JSON.parse(request.rawBody);
    assert.deepEqual(Object.keys(envelope), ['deviceId', 'event', 'id', 'payload', 'webhookId']);
    assert.equal(envelope.deviceId, expect.deviceId);
    assert.match(envelope.id, /^[A-Za-z0-9_-]{21}$/);
    if (!seen.has(envelope.event)) seen.set(envelope.event, envelope.payload);
  }
  assert.deepEqual([...seen.keys()].sort(), [...EVENT_NAMES].sort(), 'every event arrived');

  for (const event of EVENT_NAMES) {
    const payload = seen.get(event)!;
    assert.deepEqual(Object.keys(payload).sort(), [...EVERY_EVENT_KEYS[event]].sort(), `${event} payload keys`);
    assert.ok(
      Value.Check(PAYLOAD_SCHEMAS[event], structuredClone(payload)),
      `${event} fits its schema: ${JSON.stringify(payload)}`,
    );
    for (const [key, value] of Object.entries(payload))
      if (key.endsWith('At')) assert.match(String(value), TIMESTAMP, `${event}.${key}`);
    if ('phoneNumber' in payload && event !== 'app:started') {
      const incoming = event.endsWith('received') || event === 'mms:downloaded';
      assert.equal(payload.phoneNumber, incoming ? payload.sender : payload.recipient, `${event}: phoneNumber`);
    }
    const single = BATCH_OF[event];
    if (single) {
      assert.ok(payload.messages.length >= 1, `${event} carries messages`);
      for (const message of payload.messages)
        assert.deepEqual(Object.keys(message).sort(), [...EVERY_EVENT_KEYS[single]].sort(), `${event} message keys`);
    }
  }
  for (const attachment of seen.get('mms:downloaded')!.attachments)
    assert.deepEqual(Object.keys(attachment).sort(), [...ATTACHMENT_KEYS].sort(), 'attachment keys');
  for (const card of seen.get('app:started')!.simCards)
    assert.deepEqual(Object.keys(card).sort(), [...SIM_CARD_KEYS].sort(), 'SIM card keys');
  return seen;
}
