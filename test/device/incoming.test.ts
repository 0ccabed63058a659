import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { parseWebhook, verifyWebhook } from '../../src/receiver/index.ts';
import type { ReceivedRequest } from '../helpers/receiver.ts';

// What each incoming event carries here, exactly (SIM 2 has a number; nothing in these messages is null).
const EXPECTED_KEYS: Record<string, string[]> = {
  'sms:data-received': ['messageId', 'sender', 'recipient', 'simNumber', 'phoneNumber', 'data', 'receivedAt'],
  'mms:received': [
    'messageId',
    'sender',
    'recipient',
    'simNumber',
    'phoneNumber',
    'transactionId',
    'subject',
    'size',
    'contentClass',
    'receivedAt',
  ],
  'mms:downloaded': [
    'messageId',
    'sender',
    'recipient',
    'simNumber',
    'phoneNumber',
    'body',
    'subject',
    'attachments',
    'receivedAt',
  ],
  'app:started': ['simCards'],
};
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00$/;
const SIMS = [{ phoneNumber: '+15557770001', carrierName: 'Test Mobile' }, { phoneNumber: '+15557770002' }, {}];
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255]);

let receiver: TestReceiver;
let dir: ReturnType<typeof tempDir>;
let device: Awaited<ReturnType<typeof startTestDevice>>;
let signingKey: string;

/** Register every event here on a device, so even the first (app:started) of a start is seen. */
async function register(target: typeof device): Promise<void> {
  for (const event of Object.keys(EXPECTED_KEYS)) {
    const reply = await target.api.call('POST', '/webhooks', { url: `${receiver.url}/in`, event });
    assert.equal(reply.status, 201);
  }
}

/** Every request verified with the receiver SDK, then parsed by it. */
function verified(requests: ReceivedRequest[]) {
  return requests.map((request) => {
    const check = verifyWebhook(signingKey, request.rawBody, request.headers);
    assert.ok(check.ok, `signature: ${JSON.stringify(check)}`);
    const parsed = parseWebhook(request.rawBody);
    assert.ok(parsed.ok, !parsed.ok ? parsed.error.message : '');
    return parsed.event;
  });
}
const ofEvent = (event: string) =>
  verified(receiver.requests)
    .filter((e) => e.event === event)
    .map((e) => ({ id: e.id, payload: e.payload as unknown as Record<string, unknown> }));

before(async () => {
  receiver = await new TestReceiver().start();
  dir = tempDir();
  device = await startTestDevice({ dataDir: dir.path, sims: SIMS });
  await register(device);
  signingKey = (await device.api.call('GET', '/settings')).body.webhooks.signing_key;
});
after(async () => {
  await device.cleanup();
  dir.remove();
  await receiver.stop();
});

test('a data SMS arrives on a port: sms:data-received with the data in base64, stored in the inbox', async () => {
  const reply = await device.api.call('POST', '/sim/v1/incoming', {
    type: 'DATA_SMS',
    from: '+66812345678',
    simNumber: 2,
    data: Buffer.from('hello port').toString('base64'),
    port: 53739,
  });
  assert.equal(reply.status, 202, JSON.stringify(reply.body));
  await eventually(() => ofEvent('sms:data-received').length === 1, 'sms:data-received');
  const [event] = ofEvent('sms:data-received');
  assert.deepEqual([event.id], reply.body.deliveryIds, 'the one delivery of the recorded event');
  const payload = event.payload;
  assert.deepEqual(Object.keys(payload).sort(), [...EXPECTED_KEYS['sms:data-received']].sort());
  assert.equal(payload.data, Buffer.from('hello port').toString('base64'));
  assert.deepEqual(
    [payload.sender, payload.phoneNumber, payload.recipient, payload.simNumber],
    ['+66812345678', '+66812345678', '+15557770002', 2],
  );
  assert.match(String(payload.messageId), /^[0-9a-f]{16}$/);
  assert.match(String(payload.receivedAt), TIMESTAMP);

  const stored = device.context.inbox.get(reply.body.inboxId)!;
  assert.deepEqual(
    [stored.type, stored.port, stored.data!.toString(), stored.sender, stored.simNumber],
    ['DATA_SMS', 53739, 'hello port', '+66812345678', 2],
  );
});

test('an MMS: the notification (mms:received), then the download (mms:downloaded) with its parts', async () => {
  const reply = await device.api.call('POST', '/sim/v1/incoming', {
    type: 'MMS',
    from: '+66812345678',
    simNumber: 1,
    subject: 'Holiday',
    body: 'see the picture',
    contentClass: 'IMAGE_BASIC',
    transactionId: 'T-1001',
    attachments: [
      { contentType: 'image/png', name: 'beach.png', data: PNG.toString('base64') },
      { contentType: 'text/plain', data: Buffer.from('note').toString('base64') },
    ],
  });
  assert.equal(reply.status, 202, JSON.stringify(reply.body));
  await eventually(() => ofEvent('mms:downloaded').length === 1, 'mms:downloaded');

  const [notification] = ofEvent('mms:received');
  const announced = notification.payload;
  assert.deepEqual(Object.keys(announced).sort(), [...EXPECTED_KEYS['mms:received']].sort());
  assert.deepEqual(
    [announced.messageId, announced.transactionId, announced.subject, announced.contentClass],
    ['T-1001', 'T-1001', 'Holiday', 'IMAGE_BASIC'],
  );
  assert.equal(announced.size, 'Holiday'.length + 'see the picture'.length + PNG.length + 4);
  assert.deepEqual([announced.sender, announced.recipient, announced.simNumber], ['+66812345678', '+15557770001', 1]);

  const [download] = ofEvent('mms:downloaded');
  const payload = download.payload;
  assert.deepEqual(Object.keys(payload).sort(), [...EXPECTED_KEYS['mms:downloaded']].sort());
  assert.deepEqual(
    [payload.body, payload.subject, payload.phoneNumber],
    ['see the picture', 'Holiday', '+66812345678'],
  );
  assert.deepEqual(payload.attachments, [
    { partId: 1, contentType: 'image/png', name: 'beach.png', size: PNG.length, data: PNG.toString('base64') },
    { partId: 2, contentType: 'text/plain', size: 4, data: Buffer.from('note').toString('base64') },
  ]);
  assert.ok(
    receiver.requests.indexOf(receiver.requests.find((r) => r.rawBody.includes('"mms:received"'))!) <
      receiver.requests.indexOf(receiver.requests.find((r) => r.rawBody.includes('"mms:downloaded"'))!),
    'the notification comes first',
  );

  // Both kept in the inbox: the notification (download done) and the MMS with its parts.
  const stored = device.context.inbox.get(reply.body.inboxId)!;
  assert.deepEqual([stored.type, stored.transactionId, stored.pendingDownload], ['MMS', 'T-1001', null]);
  const downloaded = device.context.inbox.get(String(payload.messageId))!;
  assert.equal(downloaded.type, 'MMS_DOWNLOADED');
  assert.equal(downloaded.text, 'see the picture');
  assert.deepEqual(
    downloaded.attachments.map((a) => [a.partId, a.contentType, a.name, a.data.toString('base64')]),
    [
      [1, 'image/png', 'beach.png', PNG.toString('base64')],
      [2, 'text/plain', null, Buffer.from('note').toString('base64')],
    ],
  );
});

test('app:started lists the SIM cards once per start; an MMS whose download a stop cut short is downloaded after the restart', async () => {
  const started = ofEvent('app:started');
  assert.equal(started.length, 0, 'the first start emitted it before this test registered its webhooks');

  // A slow MMSC: the device stops before the download ends.
  await device.stop({ graceMs: 500 });
  device = await startTestDevice({
    dataDir: dir.path,
    sims: SIMS,
    carrierDelays: { sendDelayMs: 5, reportDelayMs: 10, mmsDownloadDelayMs: 60_000 },
  });
  const reply = await device.api.call('POST', '/sim/v1/incoming', {
    type: 'MMS',
    from: '+4915100000',
    simNumber: 3,
    attachments: [{ contentType: 'image/png', data: PNG.toString('base64') }],
  });
  assert.equal(reply.status, 202);
  await eventually(
    () => ofEvent('mms:received').some((e) => reply.body.deliveryIds.includes(e.id)),
    'the notification',
  );
  await device.stop({ graceMs: 500 });

  device = await startTestDevice({ dataDir: dir.path, sims: SIMS });
  await eventually(() => ofEvent('mms:downloaded').some((e) => e.payload.sender === '+4915100000'), 'the download');
  const download = ofEvent('mms:downloaded').find((e) => e.payload.sender === '+4915100000')!;
  const payload = download.payload;
  assert.ok(!('recipient' in payload), 'SIM 3 has no number: recipient is left out');
  assert.ok(!('body' in payload) && !('subject' in payload), 'absent body and subject are left out');
  assert.equal(payload.simNumber, 3);

  // Two restarts, two app:started, each listing the three SIM cards.
  const afterRestarts = ofEvent('app:started');
  assert.equal(afterRestarts.length, 2);
  for (const event of afterRestarts) {
    assert.deepEqual(Object.keys(event.payload), EXPECTED_KEYS['app:started']);
    assert.deepEqual(event.payload.simCards, [
      {
        slotIndex: 0,
        simNumber: 1,
        phoneNumber: '+15557770001',
        carrierName: 'Test Mobile',
        iccid: '8999001000000000001',
      },
      { slotIndex: 1, simNumber: 2, phoneNumber: '+15557770002', iccid: '8999001000000000002' },
      { slotIndex: 2, simNumber: 3, iccid: '8999001000000000003' },
    ]);
  }
  assert.equal(
    ofEvent('mms:downloaded').filter((e) => e.payload.sender === '+4915100000').length,
    1,
    'downloaded once',
  );
});

test('bad incoming messages are 400 with a message that names the rule', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ from: '+1' }, /text is required/],
    [{ from: '+1', text: 'x', data: 'AA==' }, /data is not for type SMS/],
    [{ type: 'DATA_SMS', from: '+1', data: 'AA==' }, /port/],
    [{ type: 'DATA_SMS', from: '+1', data: 'not base64!', port: 1 }, /base64/],
    [{ type: 'DATA_SMS', from: '+1', data: 'AA==', port: 65536 }, /port/],
    [{ type: 'DATA_SMS', from: '+1', data: Buffer.alloc(134).toString('base64'), port: 1 }, /133/],
    [{ type: 'DATA_SMS', from: '+1', data: 'AA==', port: 1, text: 'x' }, /text is not for type DATA_SMS/],
    [{ type: 'MMS', from: '+1' }, /body or at least one attachment/],
    [{ type: 'MMS', from: '+1', attachments: [{ contentType: 'image', data: 'AA==' }] }, /contentType/],
    [{ type: 'MMS', from: '+1', attachments: [{ contentType: 'image/png', data: '%%%' }] }, /attachments\[0\]\.data/],
    [{ type: 'MMS', from: '+1', body: 'x', port: 5 }, /port is not for type MMS/],
    [{ type: 'FAX', from: '+1', text: 'x' }, /type/],
    [{ from: '+1', text: 'x', simNumber: 9 }, /simNumber 9 does not exist/],
  ];
  for (const [body, message] of cases) {
    const reply = await device.api.call('POST', '/sim/v1/incoming', body);
    assert.equal(reply.status, 400, JSON.stringify(body));
    assert.match(reply.body.message, message, JSON.stringify(body));
  }
});
