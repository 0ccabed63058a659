import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';

/**
 * The device's Overview numbers come from its own store: real deliveries to a real receiver, one
 * webhook answering 200 and one 500, then GET /stats counts them by outcome in one-minute buckets.
 */
test('device GET /stats: attempts by outcome with p50/p99, sent messages, the failing webhook with its last error', async () => {
  const receiver = await new TestReceiver().start();
  receiver.responder = (request) => (request.path === '/bad' ? 500 : 200);
  const device = await startTestDevice();
  try {
    const { api } = device;
    for (const path of ['/good', '/bad'])
      assert.equal(
        (await api.call('POST', '/webhooks', { url: `${receiver.url}${path}`, event: 'sms:received' })).status,
        201,
      );
    const hooks = (await api.call('GET', '/webhooks')).body as { id: string; url: string }[];
    const bad = hooks.find((h) => h.url.endsWith('/bad'))!;
    for (let i = 0; i < 3; i++)
      assert.equal((await api.call('POST', '/sim/v1/incoming', { from: '+15551234567', text: `hi ${i}` })).status, 202);
    assert.equal(
      (await api.call('POST', '/message', { textMessage: { text: 'out' }, phoneNumbers: ['+15557654321'] })).status,
      202,
    );
    // 3 good attempts, and at least 2 tries of each bad delivery (one retried at least once)
    const stats = await eventually(
      async () => {
        const reply = await api.call('GET', '/stats');
        assert.equal(reply.status, 200);
        const body = reply.body;
        const sum = (key: string) => body.attempts.reduce((n: number, b: Record<string, number>) => n + b[key], 0);
        assert.equal(sum('succeeded'), 3);
        assert.ok(sum('retried') >= 3, `retried ${sum('retried')}`);
        assert.equal(
          body.messages.reduce((n: number, b: { sent: number }) => n + b.sent, 0),
          1,
        );
        return body;
      },
      'three good attempts, three retried, one message sent',
      15_000,
      100,
    );
    assert.equal(stats.range, 'hour');
    assert.equal(stats.bucketSeconds, 60);
    for (const bucket of stats.attempts) {
      assert.ok(Date.parse(bucket.at) >= Date.parse(stats.since) && Date.parse(bucket.at) <= Date.parse(stats.until));
      assert.ok(bucket.p50Ms <= bucket.p99Ms);
    }
    assert.equal(stats.failingWebhooks[0].webhookId, bad.id);
    assert.equal(stats.failingWebhooks[0].url, `${receiver.url}/bad`);
    assert.equal(stats.failingWebhooks[0].lastError, 'HTTP 500');
    assert.equal(stats.failingWebhooks.length, 1, 'the 200 webhook is not failing');
    assert.equal(typeof stats.queueDepth, 'number');
    assert.equal(stats.queue.length, 60, 'queue depth for every minute of the hour');
    assert.equal(stats.queue.at(-1).depth, stats.queueDepth, 'the last minute is the depth now');
    // six deliveries (3 SMS, 2 webhooks) were made in the last minutes: none of them is counted twice
    assert.ok(stats.queue.every((b: { depth: number }) => b.depth >= 0 && b.depth <= 6));
    assert.equal((await api.call('GET', '/stats?range=week')).status, 400);
    const day = await api.call('GET', '/stats?range=day');
    assert.equal(day.body.range, 'day');
  } finally {
    await device.cleanup();
    await receiver.stop();
  }
});
