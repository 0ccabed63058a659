import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WebHookEventType, ProcessState } from 'android-sms-gateway';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, TEST_PASSWORD } from '../helpers/device.ts';
import { officialClient } from '../server/helpers.ts';

const run = promisify(execFile);

let device: Awaited<ReturnType<typeof startTestDevice>>;
let receiver: TestReceiver;
before(async () => {
  device = await startTestDevice();
  receiver = await new TestReceiver().start();
});
after(async () => {
  await device.cleanup();
  await receiver.stop();
});

test('the official android-sms-gateway client manages webhooks, sends, reads state, and the events arrive', async () => {
  const client = officialClient('sms', TEST_PASSWORD, device.url);

  const hooks = [];
  for (const event of [WebHookEventType.SmsSent, WebHookEventType.SmsDelivered, WebHookEventType.SmsReceived]) {
    const hook = await client.registerWebhook({ url: `${receiver.url}/${event}`, event });
    assert.equal(hook.event, event);
    assert.match(String(hook.id), /^[A-Za-z0-9_-]{21}$/);
    hooks.push(hook);
  }
  const explicit = await client.registerWebhook({
    id: 'my-hook',
    url: `${receiver.url}/x`,
    event: WebHookEventType.SmsFailed,
    deviceId: device.deviceId,
  });
  assert.equal(explicit.id, 'my-hook');
  const replaced = await client.registerWebhook({
    id: 'my-hook',
    url: `${receiver.url}/failed`,
    event: WebHookEventType.SmsFailed,
  });
  assert.equal(replaced.url, `${receiver.url}/failed`);

  const listed = await client.getWebhooks();
  assert.equal(listed.length, 4, 'the upsert replaced, not added');
  assert.deepEqual(listed.find((h) => h.id === 'my-hook')?.url, `${receiver.url}/failed`);

  const state = await client.send({ message: 'Hello from the official client', phoneNumbers: ['+15551234567'] });
  assert.match(state.id, /^[A-Za-z0-9_-]+$/);
  assert.equal(state.recipients[0].phoneNumber, '+15551234567');
  const final = await eventually(async () => {
    const s = await client.getState(state.id);
    return s.state === ProcessState.Delivered ? s : null;
  }, 'Delivered');
  assert.equal(final.recipients[0].state, ProcessState.Delivered);

  await receiver.waitFor(2);
  const events = receiver
    .envelopes()
    .map((e) => e.event)
    .sort();
  assert.deepEqual(events, ['sms:delivered', 'sms:sent']);
  assert.ok(receiver.envelopes().every((e) => e.payload.messageId === state.id));

  await client.deleteWebhook('my-hook');
  for (const hook of hooks) await client.deleteWebhook(String(hook.id));
  assert.deepEqual(await client.getWebhooks(), []);
  await client.deleteWebhook('never-existed'); // 204 as well
});

test("the seed's curl commands work against the device as written (host and port aside)", async () => {
  const auth = `sms:${TEST_PASSWORD}`;
  const registered = await run('curl', [
    '-sS',
    '-X',
    'POST',
    '-u',
    auth,
    '-H',
    'Content-Type: application/json',
    '-d',
    `{ "url": "${receiver.url}/webhook", "event": "sms:received" }`,
    `${device.url}/webhooks`,
    '-w',
    '\n%{http_code}',
  ]);
  const [body, code] = registered.stdout.trim().split('\n');
  assert.equal(code, '201');
  const hook = JSON.parse(body);
  assert.equal(hook.event, 'sms:received');

  const listed = await run('curl', ['-sS', '-X', 'GET', '-u', auth, `${device.url}/webhooks`]);
  assert.deepEqual(
    JSON.parse(listed.stdout).map((h: { id: string }) => h.id),
    [hook.id],
  );

  const before = receiver.requests.length;
  await device.api.call('POST', '/sim/v1/incoming', { from: '6505551212', text: 'Android is always a sweet treat!' });
  await receiver.waitFor(before + 1);

  const removed = await run('curl', [
    '-sS',
    '-X',
    'DELETE',
    '-u',
    auth,
    `${device.url}/webhooks/${encodeURIComponent(hook.id)}`,
    '-w',
    '%{http_code}',
  ]);
  assert.equal(removed.stdout, '204');
  const empty = await run('curl', ['-sS', '-u', auth, `${device.url}/webhook`]);
  assert.deepEqual(JSON.parse(empty.stdout), []);
});
