import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { basic, call, startTestServer } from '../server/helpers.ts';
import { InProcessPushHub } from '../../src/server/push/hub.ts';
import type { PushEvent } from '../../src/protocol/index.ts';

/** A hub that loses every MessageEnqueued push: the device learns of messages only by pulling. */
class NoEnqueuedPushes extends InProcessPushHub {
  override async publish(deviceIds: readonly string[], event: PushEvent): Promise<void> {
    if (event.type !== 'MessageEnqueued') await super.publish(deviceIds, event);
  }
}

test('a full pull of 100 is followed by another at once: 230 queued messages all reach the device after one reconnect, with no push', async () => {
  const server = await startTestServer({ hub: new NoEnqueuedPushes(), keepAliveMs: 500 });
  const device = await startTestDevice({
    link: {
      serverUrl: server.url,
      privateToken: server.privateToken,
      reconnect: { minDelayMs: 100, maxDelayMs: 300 },
      log: () => {},
    },
  });
  try {
    const link = device.link!;
    const auth = basic(link.registration.login, link.createdPassword!);
    await eventually(() => link.connected, 'the push stream to open');
    const ids: string[] = [];
    for (let i = 0; i < 230; i++) {
      const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { textMessage: { text: `queued ${i}` }, phoneNumbers: ['+15550102000'] },
      });
      assert.equal(sent.status, 202, sent.text);
      ids.push(sent.body.id);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ids.filter((id) => device.context.sms.get(id)).length, 0, 'no push reached the device');

    link.dropConnection(); // the reconnect pulls once; the rest must follow without a push
    await eventually(() => ids.every((id) => device.context.sms.get(id)), 'all 230 messages on the device', 15_000);
    await eventually(
      async () =>
        (await call(`${server.thirdPartyUrl}/messages/${ids[229]}`, 'GET', { auth })).body.state === 'Delivered',
      'the last message Delivered on the server',
      15_000,
    );
  } finally {
    await device.cleanup();
    await server.cleanup();
  }
});
