import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { call, basic } from '../server/helpers.ts';
import { createHash } from 'node:crypto';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A data SMS (bytes to a port) from the request to the air and back as events, on its own and through a server. */
let server: RunningServer;
let serverDir: ReturnType<typeof tempDir>;
let device: Awaited<ReturnType<typeof startTestDevice>>;
let receiver: TestReceiver;
let auth: string;

before(async () => {
  serverDir = tempDir();
  server = await createServer({ dataDir: serverDir.path, port: 0, keepAliveMs: 500 });
  receiver = await new TestReceiver().start();
  device = await startTestDevice({
    link: {
      serverUrl: server.url,
      privateToken: server.privateToken,
      name: 'data phone',
      reconnect: { minDelayMs: 300, maxDelayMs: 1000 },
      healthIntervalMs: 300,
      log: () => {},
    },
  });
  auth = basic(device.link!.registration.login, device.link!.createdPassword!);
  for (const event of ['sms:sent', 'sms:delivered', 'sms:failed']) {
    const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/local`, event });
    assert.equal(hook.status, 201);
  }
});
after(async () => {
  await device.cleanup();
  await server.close();
  await receiver.stop();
  serverDir.remove();
});

const BYTES = Buffer.from([0x00, 0x01, 0x02, 0xff, 0x7f]);

test('the Local API sends a data SMS: the carrier gets the bytes and the port; sms:sent (one part) and sms:delivered follow', async () => {
  const reply = await device.api.call('POST', '/messages', {
    id: 'data-local',
    dataMessage: { data: BYTES.toString('base64'), port: 8123 },
    phoneNumbers: ['+15557654321'],
  });
  assert.equal(reply.status, 202, JSON.stringify(reply.body));
  await eventually(
    async () => (await device.api.call('GET', '/messages/data-local')).body.state === 'Delivered',
    'the data SMS to be delivered',
  );
  const onAir = device.context.carrier.sent.filter((sms) => sms.messageId === 'data-local');
  assert.equal(onAir.length, 1);
  assert.deepEqual(onAir[0].content, { data: BYTES, port: 8123 });
  await eventually(
    () => receiver.envelopes().filter((e) => e.payload.messageId === 'data-local').length === 2,
    'sms:sent and sms:delivered',
  );
  const events = receiver.envelopes().filter((e) => e.payload.messageId === 'data-local');
  const sent = events.find((e) => e.event === 'sms:sent')!;
  assert.equal(sent.payload.partsCount, 1);
  assert.equal(sent.payload.recipient, '+15557654321');
  assert.ok(events.some((e) => e.event === 'sms:delivered'));
  const listed = await device.api.call('GET', '/messages?includeContent=true');
  const mine = listed.body.find((m: { id: string }) => m.id === 'data-local');
  assert.deepEqual(mine.dataMessage, { data: BYTES.toString('base64'), port: 8123 });
  assert.equal(mine.textMessage, undefined);
});

test('a data SMS the network refuses ends Failed with sms:failed and the reason', async () => {
  const reply = await device.api.call('POST', '/messages', {
    id: 'data-refused',
    dataMessage: { data: 'AQ==', port: 0 },
    phoneNumbers: ['+15550000002'],
  });
  assert.equal(reply.status, 202);
  await eventually(() => receiver.envelopes().some((e) => e.payload.messageId === 'data-refused'), 'sms:failed');
  const failed = receiver.envelopes().find((e) => e.payload.messageId === 'data-refused')!;
  assert.equal(failed.event, 'sms:failed');
  assert.equal(failed.payload.reason, 'RESULT_ERROR_NO_SERVICE');
});

test('through the server: the device pulls the data SMS, sends it to the port, and the server shows it Delivered, keeping only hashes', async () => {
  const reply = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
    auth,
    body: {
      id: 'data-cloud',
      dataMessage: { data: BYTES.toString('base64'), port: 65535 },
      phoneNumbers: ['+15557654322'],
    },
  });
  assert.equal(reply.status, 202, JSON.stringify(reply.body));
  await eventually(
    async () => (await call(`${server.thirdPartyUrl}/messages/data-cloud`, 'GET', { auth })).body.state === 'Delivered',
    'the server to learn the data SMS was delivered',
  );
  const onAir = device.context.carrier.sent.filter((sms) => sms.messageId === 'data-cloud');
  assert.deepEqual(
    onAir.map((sms) => sms.content),
    [{ data: BYTES, port: 65535 }],
  );
  // final: the server keeps only hashes of the content and the number (isHashed)
  const listed = await call(`${server.thirdPartyUrl}/messages?includeContent=true`, 'GET', { auth });
  const mine = listed.body.find((m: { id: string }) => m.id === 'data-cloud');
  assert.equal(mine.isHashed, true);
  assert.deepEqual(mine.hashedMessage, { hash: sha256(BYTES.toString('base64')) });
  assert.equal(mine.dataMessage, undefined);
  assert.equal(mine.textMessage, undefined);
  assert.deepEqual(mine.recipients, [{ phoneNumber: sha256('+15557654322').slice(0, 16), state: 'Delivered' }]);
});
