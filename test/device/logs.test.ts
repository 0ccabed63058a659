import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually, tempDir, TEST_PASSWORD } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { officialClient } from '../server/helpers.ts';
import { systemClock } from '../../src/shared/clock.ts';

interface Entry {
  id: number;
  createdAt: string;
  module: string;
  priority: string;
  message: string;
  context?: Record<string, unknown>;
}

const DAY = 24 * 3600 * 1000;

test('GET /logs: a persistent log of what the device did, in the shape of the app’s Local API, bounded by logs.lifetime_days', async () => {
  const dir = tempDir();
  let skewMs = 0;
  const clock = { ...systemClock, now: () => Date.now() + skewMs };
  const receiver = await new TestReceiver().start();
  receiver.responder = (_request, index) => (index === 0 ? 500 : 200);
  let device = await startTestDevice({ dataDir: dir.path, clock });
  try {
    const hook = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/hook`, event: 'sms:sent' });
    assert.equal(hook.status, 201);
    const ok = await device.api.call('POST', '/message', { message: 'secret text', phoneNumbers: ['+15550105000'] });
    const failed = await device.api.call('POST', '/message', { message: 'doomed', phoneNumbers: ['+15550000001'] });
    assert.equal(ok.status, 202);
    await receiver.waitFor(2); // the first attempt fails, the retry succeeds
    assert.equal((await device.api.call('PATCH', '/settings', { logs: { lifetime_days: 1 } })).status, 200);

    const entries = await eventually(async () => {
      const reply = await device.api.call<Entry[]>('GET', '/logs');
      assert.equal(reply.status, 200);
      return reply.body.some((e) => e.module === 'settings') ? reply.body : null;
    }, 'the settings change in the log');
    for (const entry of entries) {
      assert.equal(typeof entry.id, 'number');
      assert.match(entry.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+07:00$/, 'in the device’s zone');
      assert.ok(['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(entry.priority));
    }
    assert.deepEqual(
      entries.map((e) => e.id),
      [...entries.map((e) => e.id)].sort((a, b) => a - b),
      'oldest first',
    );
    const find = (predicate: (e: Entry) => boolean) => entries.find(predicate);
    assert.ok(find((e) => e.module === 'system' && e.message === 'device started'));
    const delivered = find(
      (e) => e.module === 'messages' && e.context?.id === ok.body.id && e.context?.state === 'Delivered',
    );
    assert.equal(delivered?.priority, 'INFO');
    const failure = find(
      (e) => e.module === 'messages' && e.context?.id === failed.body.id && e.context?.state === 'Failed',
    );
    assert.equal(failure?.priority, 'WARN');
    const attempt = find((e) => e.module === 'webhooks');
    assert.equal(attempt?.priority, 'WARN');
    assert.match(attempt!.message, /attempt 1: HTTP 500; tried again later/);
    assert.ok(!JSON.stringify(entries).includes('secret text'), 'never a message text');

    // the official client reads it, window included
    const client = officialClient('sms', TEST_PASSWORD, device.url);
    const all = await client.getLogs();
    assert.equal(all.length, entries.length);
    assert.deepEqual(await client.getLogs(new Date(Date.now() + DAY)), [], 'nothing after now');
    const firstTwo = await device.api.call<Entry[]>(
      'GET',
      `/logs?from=${encodeURIComponent(entries[0].createdAt)}&to=${encodeURIComponent(entries[0].createdAt)}`,
    );
    assert.ok(firstTwo.body.length >= 1 && firstTwo.body.every((e) => e.createdAt === entries[0].createdAt));

    for (const query of [
      'from=yesterday',
      'to=2026-13-01T00:00:00Z',
      'from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z',
    ]) {
      const bad = await device.api.call('GET', `/logs?${query}`);
      assert.equal(bad.status, 400, query);
      assert.equal(typeof bad.body.message, 'string');
    }

    // persistent: a restart keeps it
    await device.cleanup();
    device = await startTestDevice({ dataDir: dir.path, clock });
    const after = (await device.api.call<Entry[]>('GET', '/logs')).body;
    assert.ok(after.length > entries.length, 'kept, and the new start added to it');
    assert.deepEqual(
      after.slice(0, entries.length).map((e) => e.id),
      entries.map((e) => e.id),
    );

    // bounded: past logs.lifetime_days (1 day, at the test's time scale) the purge drops them
    skewMs = 2 * DAY;
    await device.context.retention.purge();
    const purged = (await device.api.call<Entry[]>('GET', '/logs')).body;
    assert.ok(
      purged.every((e) => !entries.some((old) => old.id === e.id)),
      'every entry older than the lifetime is gone',
    );
  } finally {
    await device.cleanup();
    await receiver.stop();
    dir.remove();
  }
});
