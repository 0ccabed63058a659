import { createHash } from 'node:crypto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessState, WebHookEventType, HealthStatus } from 'android-sms-gateway';
import { startTestServer, newDevice, officialClient, HttpStatusError, type TestServer } from './helpers.ts';
import type { MobileClient } from '../../src/device/link/mobile-client.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.cleanup();
});

const NANOID = /^[A-Za-z0-9_-]{21}$/;

test('the official android-sms-gateway client manages webhooks on the server', async () => {
  const { registration, login, password } = await newDevice(server);
  const client = officialClient(login, password, server.thirdPartyUrl);

  const all = await client.registerWebhook({
    url: 'https://example.com/received',
    event: WebHookEventType.SmsReceived,
  });
  assert.match(all.id ?? '', NANOID);
  assert.deepEqual(all, { id: all.id, url: 'https://example.com/received', event: 'sms:received', deviceId: null });

  const bound = await client.registerWebhook({
    id: 'sent-hook',
    url: 'http://127.0.0.1:9/sent',
    event: WebHookEventType.SmsSent,
    deviceId: registration.id,
  });
  assert.deepEqual(bound, {
    id: 'sent-hook',
    url: 'http://127.0.0.1:9/sent',
    event: 'sms:sent',
    deviceId: registration.id,
  });

  // a POST with an existing id replaces it
  const replaced = await client.registerWebhook({
    id: 'sent-hook',
    url: 'https://example.com/sent',
    event: WebHookEventType.SmsSent,
  });
  assert.equal(replaced.deviceId, null);

  const listed = await client.getWebhooks();
  assert.deepEqual(
    listed.map((h) => [h.id, h.url, h.deviceId]).sort(),
    [
      [all.id, 'https://example.com/received', null],
      ['sent-hook', 'https://example.com/sent', null],
    ].sort(),
  );

  assert.equal(await client.deleteWebhook('sent-hook'), undefined);
  await client.deleteWebhook('never-existed'); // 204 as well
  assert.deepEqual(
    (await client.getWebhooks()).map((h) => h.id),
    [all.id],
  );
});

test('the official client sends, reads the state as the device reports it, lists devices', async () => {
  const { registration, mobile, login, password } = await newDevice(server, 'Pixel');
  const client = officialClient(login, password, server.thirdPartyUrl);

  const state = await client.send({
    message: 'Hello from the official client',
    phoneNumbers: ['+15551234567', '+15550000001'],
  });
  assert.match(state.id, NANOID);
  assert.equal(state.state, ProcessState.Pending);
  assert.deepEqual(state.recipients, [
    { phoneNumber: '+15551234567', state: 'Pending' },
    { phoneNumber: '+15550000001', state: 'Pending' },
  ]);
  assert.equal((state as unknown as { deviceId: string }).deviceId, registration.id);

  await actLikeTheDevice(mobile, state.id);

  const final = await client.getState(state.id);
  assert.equal(final.state, ProcessState.Failed);
  // final: the server keeps only the numbers' hashes from now on, as the original's does
  assert.equal((final as unknown as { isHashed: boolean }).isHashed, true);
  const hashed = (n: string) => createHash('sha256').update(n).digest('hex').slice(0, 16);
  assert.deepEqual(final.recipients, [
    { phoneNumber: hashed('+15551234567'), state: 'Delivered' },
    { phoneNumber: hashed('+15550000001'), state: 'Failed', error: 'RESULT_ERROR_GENERIC_FAILURE' },
  ]);
  const states = (final as unknown as { states: Record<string, string> }).states;
  assert.deepEqual(Object.keys(states), ['Pending', 'Processed', 'Sent', 'Failed']);

  const devices = await client.getDevices();
  assert.equal(devices.length, 1);
  assert.equal(devices[0].id, registration.id);
  assert.equal(devices[0].name, 'Pixel');
  for (const key of ['createdAt', 'updatedAt', 'lastSeen'] as const)
    assert.ok(!Number.isNaN(Date.parse(devices[0][key])), key);

  await assert.rejects(client.getState('no-such-message'), (e: HttpStatusError) => e.status === 404);
});

test('the official client reads health and manages settings (camelCase in, snake_case out)', async () => {
  const { login, password } = await newDevice(server);
  const client = officialClient(login, password, server.thirdPartyUrl);

  const health = await client.getHealth();
  assert.equal(health.status, HealthStatus.Pass);
  assert.equal(typeof health.version, 'string');
  assert.equal(typeof health.releaseId, 'number');
  assert.equal(health.checks['db:ping'].status, 'pass');
  assert.equal(health.checks['db:ping'].observedUnit, 'ms');

  const initial = (await client.getSettings()) as Record<string, any>;
  assert.equal(initial.webhooks.retry_count, 14);
  assert.equal(initial.webhooks.internet_required, true);
  assert.ok(!('signing_key' in initial.webhooks));

  await client.patchSettings({ webhooks: { retryCount: 5, signingKey: 'a-key-for-my-devices' } });
  const patched = (await client.getSettings()) as Record<string, any>;
  assert.equal(patched.webhooks.retry_count, 5);
  assert.ok(!('signing_key' in patched.webhooks), 'the signing key is never echoed back');

  await client.updateSettings({ ping: { intervalSeconds: 60 } });
  const replaced = (await client.getSettings()) as Record<string, any>;
  assert.equal(replaced.ping.interval_seconds, 60);
  assert.equal(replaced.webhooks.retry_count, 14, 'PUT replaces: keys not given are back to their defaults');
});

/** What a device does with a message: pull it, then report Processed, Sent, and the outcome per recipient. */
async function actLikeTheDevice(mobile: MobileClient, id: string): Promise<void> {
  const pending = await mobile.pullMessages();
  const message = pending.find((m) => m.id === id);
  assert.ok(message, 'the device pulls the message');
  const at = (s: number) => new Date(Date.now() + s).toISOString();
  await mobile.reportMessages([
    {
      id,
      state: 'Processed',
      recipients: message.phoneNumbers.map((phoneNumber) => ({ phoneNumber, state: 'Pending' })),
      states: { Processed: at(1) },
    },
  ]);
  await mobile.reportMessages([
    {
      id,
      state: 'Failed',
      recipients: [
        { phoneNumber: '+15551234567', state: 'Delivered' },
        { phoneNumber: '+15550000001', state: 'Failed', error: 'RESULT_ERROR_GENERIC_FAILURE' },
      ],
      states: { Processed: at(1), Sent: at(2), Failed: at(3) },
    },
  ]);
}
