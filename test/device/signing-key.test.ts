import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, tempDir } from '../helpers/device.ts';

const signatureOf = (key: string, body: string, ts: string) =>
  createHmac('sha256', key)
    .update(body + ts)
    .digest('hex');

test('the signing key is generated once, survives a restart, and a new one from settings takes effect', async () => {
  const dir = tempDir();
  const receiver = await new TestReceiver().start();
  try {
    let device = await startTestDevice({ dataDir: dir.path });
    await device.api.call('POST', '/webhooks', { url: `${receiver.url}/h`, event: 'sms:received' });
    await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'one' });
    await receiver.waitFor(1);
    const firstKey = (await device.api.call('GET', '/settings')).body.webhooks.signing_key;
    const [first] = receiver.requests;
    assert.equal(
      first.headers['x-signature'],
      signatureOf(firstKey, first.rawBody, String(first.headers['x-timestamp'])),
    );
    await device.stop();

    device = await startTestDevice({ dataDir: dir.path });
    assert.equal((await device.api.call('GET', '/settings')).body.webhooks.signing_key, firstKey, 'persisted');

    const patched = await device.api.call('PATCH', '/settings', { webhooks: { signing_key: 'my own key ✓' } });
    assert.equal(patched.body.webhooks.signing_key, 'my own key ✓');
    await device.api.call('POST', '/sim/v1/incoming', { from: '+1', text: 'two' });
    await receiver.waitFor(2);
    const second = receiver.requests[1];
    assert.equal(
      second.headers['x-signature'],
      signatureOf('my own key ✓', second.rawBody, String(second.headers['x-timestamp'])),
    );
    assert.notEqual(
      second.headers['x-signature'],
      signatureOf(firstKey, second.rawBody, String(second.headers['x-timestamp'])),
    );
    await device.cleanup();
  } finally {
    await receiver.stop();
    dir.remove();
  }
});
