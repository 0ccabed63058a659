import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice } from '../helpers/device.ts';
import { DEFAULT_SETTINGS } from '../../src/protocol/index.ts';

let device: Awaited<ReturnType<typeof startTestDevice>>;
before(async () => {
  device = await startTestDevice();
});
after(async () => {
  await device.cleanup();
});

// Every group and key the app's settings classes define, with a value other than its default.
const EVERY_KEY = {
  messages: {
    send_interval_min: 1,
    send_interval_max: 5,
    limit_period: 'Per30Minutes',
    limit_value: 20,
    sim_selection_mode: 'RoundRobin',
    log_lifetime_days: 7,
    processing_order: 'FIFO',
    work_hours_enabled: true,
    work_hours_start: '08:30',
    work_hours_end: '22:00',
  },
  webhooks: { internet_required: false, retry_count: 3, log_lifetime_days: 14, signing_key: 'a-key-of-mine' },
  logs: { lifetime_days: 10 },
  ping: { interval_seconds: 3600 },
  encryption: { passphrase: 'correct horse battery staple' },
  gateway: {
    cloud_url: 'https://sms.example.com/api/mobile/v1',
    private_token: 'tok-123',
    notification_channel: 'SSE_ONLY',
  },
  receiver: { content_provider_enabled: false },
};
const WRITE_ONLY = /correct horse|tok-123|passphrase|private_token/;

test('every upstream settings group and key is accepted, stored and shown back, the write-only ones never', async () => {
  const patched = await device.api.call('PATCH', '/settings', EVERY_KEY);
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  const read = await device.api.call('GET', '/settings');
  for (const reply of [patched, read]) {
    assert.doesNotMatch(JSON.stringify(reply.body), WRITE_ONLY);
    assert.deepEqual(Object.keys(reply.body).sort(), ['gateway', 'logs', 'messages', 'ping', 'receiver', 'webhooks']);
    assert.deepEqual(reply.body.messages, EVERY_KEY.messages);
    assert.deepEqual(reply.body.webhooks, EVERY_KEY.webhooks);
    assert.deepEqual(reply.body.gateway, {
      cloud_url: 'https://sms.example.com/api/mobile/v1',
      notification_channel: 'SSE_ONLY',
    });
    assert.deepEqual(reply.body.receiver, { content_provider_enabled: false });
    assert.deepEqual([reply.body.logs, reply.body.ping], [EVERY_KEY.logs, EVERY_KEY.ping]);
  }
  // Kept, for the parts that use them.
  const stored = device.context.settings.get();
  assert.equal(stored.encryption.passphrase, 'correct horse battery staple');
  assert.equal(stored.gateway.private_token, 'tok-123');

  // PUT: the document over the defaults; a write-only key not given goes back to its default too.
  const replaced = await device.api.call('PUT', '/settings', { gateway: { notification_channel: 'AUTO' } });
  assert.equal(replaced.status, 200);
  assert.deepEqual(replaced.body.messages, DEFAULT_SETTINGS.messages);
  assert.equal(device.context.settings.get().encryption.passphrase, null);
  assert.equal(replaced.body.webhooks.signing_key, 'a-key-of-mine', 'the signing key survives a PUT without one');

  // camelCase, as the official clients send it.
  const camel = await device.api.call('PATCH', '/settings', {
    receiver: { contentProviderEnabled: false },
    gateway: { notificationChannel: 'SSE_ONLY' },
    messages: { processingOrder: 'FIFO', workHoursEnabled: true },
  });
  assert.equal(camel.status, 200, JSON.stringify(camel.body));
  assert.deepEqual(
    [camel.body.receiver.content_provider_enabled, camel.body.gateway.notification_channel],
    [false, 'SSE_ONLY'],
  );
  assert.deepEqual([camel.body.messages.processing_order, camel.body.messages.work_hours_enabled], ['FIFO', true]);

  // null puts a nullable key back to "none".
  await device.api.call('PATCH', '/settings', { encryption: { passphrase: 'x' } });
  const cleared = await device.api.call('PATCH', '/settings', {
    encryption: { passphrase: null },
    gateway: { cloud_url: null },
  });
  assert.equal(cleared.status, 200);
  assert.equal(device.context.settings.get().encryption.passphrase, null);
  assert.equal(cleared.body.gateway.cloud_url, null);
});

test('unknown groups and keys, and bad values, are 400 with a message that names them', async () => {
  const before = (await device.api.call('GET', '/settings')).body;
  const cases: [unknown, RegExp][] = [
    [{ media: { enabled: true } }, /media/],
    [{ gateway: { enabled: true } }, /enabled/],
    [{ receiver: { content_provider: true } }, /content_provider/],
    [{ encryption: { key: 'x' } }, /key/],
    [{ encryption: { passphrase: '' } }, /passphrase/],
    [{ gateway: { cloud_url: 'http://sms.example.com' } }, /cloud_url/],
    [{ gateway: { notification_channel: 'PUSH' } }, /notification_channel/],
    [{ gateway: { private_token: 5 } }, /private_token/],
    [{ receiver: { content_provider_enabled: 'yes' } }, /content_provider_enabled/],
    [{ messages: { limit_period: 'PerWeek' } }, /limit_period/],
    [{ messages: { processing_order: 'RANDOM' } }, /processing_order/],
    [{ messages: { work_hours_start: '25:00' } }, /work_hours_start/],
    [{ messages: { work_hours_end: '9:00' } }, /work_hours_end/],
    [{ messages: { work_hours_enabled: 1 } }, /work_hours_enabled/],
  ];
  for (const [body, message] of cases) {
    for (const method of ['PATCH', 'PUT']) {
      const reply = await device.api.call(method, '/settings', body);
      assert.equal(reply.status, 400, `${method} ${JSON.stringify(body)}`);
      assert.match(reply.body.message, message, `${method} ${JSON.stringify(body)}: ${reply.body.message}`);
    }
  }
  assert.deepEqual((await device.api.call('GET', '/settings')).body, before, 'nothing changed');
});
