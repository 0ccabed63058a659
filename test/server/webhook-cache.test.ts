import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from './helpers.ts';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import { CachedWebhooksRepository } from '../../src/server/webhooks/cache.ts';
import { InProcessPushHub } from '../../src/server/push/hub.ts';
import { systemClock } from '../../src/shared/clock.ts';
import type { WebhookRecord, WebhooksRepository } from '../../src/server/webhooks/repository.ts';

const hook = (userId: string, id: string, url: string, deviceId: string | null = null): WebhookRecord => ({
  userId,
  id,
  url,
  event: 'sms:received',
  deviceId,
  createdAt: Number(id.replace(/\D/g, '')) || 1,
  updatedAt: 1,
});

test('the webhook cache answers from memory, and every write through it is seen by the next read', async () => {
  const dir = tempDir();
  const store = await openSqliteStore(join(dir.path, 'server.db'));
  try {
    for (const id of ['u1', 'u2', 'u3'])
      await store.users.insertUser({ id, login: id, passwordHash: 'h', createdAt: 1, updatedAt: 1 });
    let reads = 0;
    const counting: WebhooksRepository = Object.assign(Object.create(store.webhooks), {
      listUserWebhooks: (userId: string) => (reads++, store.webhooks.listUserWebhooks(userId)),
    });
    const cache = new CachedWebhooksRepository(counting, new InProcessPushHub(), systemClock, false);
    await cache.upsertWebhook(hook('u1', 'w1', 'https://a.example/1'));
    assert.deepEqual(
      (await cache.listUserWebhooks('u1')).map((w) => w.url),
      ['https://a.example/1'],
    );
    assert.deepEqual(
      (await cache.listUserWebhooks('u1')).map((w) => w.url),
      ['https://a.example/1'],
    );
    assert.equal(reads, 1, 'the second read came from memory');

    await cache.upsertWebhook(hook('u1', 'w1', 'https://a.example/changed'));
    await cache.upsertWebhook(hook('u1', 'w2', 'https://a.example/2', 'dev-1'));
    assert.deepEqual(
      (await cache.listUserWebhooks('u1')).map((w) => w.url),
      ['https://a.example/changed', 'https://a.example/2'],
    );
    assert.deepEqual(
      (await cache.listDeviceWebhooks('u1', 'dev-2')).map((w) => w.id),
      ['w1'],
      "another device's webhook is not this one's",
    );
    assert.deepEqual(
      (await cache.listDeviceWebhooks('u1', 'dev-1')).map((w) => w.id),
      ['w1', 'w2'],
    );
    assert.deepEqual(await cache.listUserWebhooks('u2'), [], 'users do not share lists');

    assert.equal(await cache.deleteDeviceWebhooks('u1', 'dev-1'), 1);
    assert.deepEqual(
      (await cache.listUserWebhooks('u1')).map((w) => w.id),
      ['w1'],
    );
    assert.equal(await cache.deleteUserWebhook('u1', 'w1'), true);
    assert.deepEqual(await cache.listUserWebhooks('u1'), []);

    // A read that overlaps a write is answered, and the write still wins for every later read.
    const readsBefore = reads;
    const racing = cache.listUserWebhooks('u3');
    await cache.upsertWebhook(hook('u3', 'w9', 'https://b.example/9'));
    assert.deepEqual(await racing, []);
    assert.deepEqual(
      (await cache.listUserWebhooks('u3')).map((w) => w.id),
      ['w9'],
      'the list after the write, not the raced read',
    );
    assert.equal(reads - readsBefore, 2, 'the raced read did not stay cached');
  } finally {
    await store.close();
    dir.remove();
  }
});

/** A hub whose cross-node feed can be cut, as the PostgreSQL hub's is when its LISTEN connection drops. */
class CuttableHub extends InProcessPushHub {
  connected = true;
  override get complete(): boolean {
    return this.connected;
  }
}

test("on a shared store, the cache follows the hub: other nodes' writes, gaps, a lost feed and the age bound", async () => {
  const dir = tempDir();
  const store = await openSqliteStore(join(dir.path, 'server.db'));
  try {
    await store.users.insertUser({ id: 'u1', login: 'u1', passwordHash: 'h', createdAt: 1, updatedAt: 1 });
    let reads = 0;
    let deviceReads = 0;
    const counting: WebhooksRepository = Object.assign(Object.create(store.webhooks), {
      listUserWebhooks: (userId: string) => (reads++, store.webhooks.listUserWebhooks(userId)),
      listDeviceWebhooks: (userId: string, deviceId: string) => (
        deviceReads++,
        store.webhooks.listDeviceWebhooks(userId, deviceId)
      ),
    });
    let now = 1_000_000;
    const clock = { ...systemClock, now: () => now };
    const hub = new CuttableHub();
    const cache = new CachedWebhooksRepository(counting, hub, clock, true);
    const urls = async () => (await cache.listUserWebhooks('u1')).map((w) => w.url);

    await cache.upsertWebhook(hook('u1', 'w1', 'https://a.example/1'));
    assert.deepEqual(await urls(), ['https://a.example/1']);
    assert.deepEqual(await urls(), ['https://a.example/1']);
    assert.equal(reads, 1, 'cached');

    // "Another node" writes straight to the store; its notification arrives as the user's event.
    await store.webhooks.upsertWebhook(hook('u1', 'w1', 'https://a.example/other-node'));
    assert.deepEqual(await urls(), ['https://a.example/1'], 'until the notification, the old list');
    await hub.publishToUser('u1', { type: 'SettingsUpdated', data: {} });
    assert.deepEqual(await urls(), ['https://a.example/1'], 'another event type changes nothing');
    await hub.publishToUser('u1', { type: 'WebhooksUpdated', data: {} });
    assert.deepEqual(await urls(), ['https://a.example/other-node'], 'the notification drops the entry');

    // The feed is lost: no answer from memory, nothing cached, until it is back.
    hub.connected = false;
    hub.gap();
    await store.webhooks.upsertWebhook(hook('u1', 'w1', 'https://a.example/during-gap'));
    const readsBefore = reads;
    assert.deepEqual(await urls(), ['https://a.example/during-gap']);
    assert.deepEqual(await urls(), ['https://a.example/during-gap']);
    assert.equal(reads - readsBefore, 2, 'both read from the store');
    hub.connected = true;
    hub.gap();
    assert.deepEqual(await urls(), ['https://a.example/during-gap']);
    assert.deepEqual(await urls(), ['https://a.example/during-gap']);
    assert.equal(reads - readsBefore, 3, 'cached again once the feed is back');

    // A notification lost without a gap (a connection dead but not yet noticed) is bounded by the age limit.
    await store.webhooks.upsertWebhook(hook('u1', 'w1', 'https://a.example/unnoticed'));
    now += 9_000;
    assert.deepEqual(await urls(), ['https://a.example/during-gap']);
    now += 1_000;
    assert.deepEqual(await urls(), ['https://a.example/unnoticed'], 'read again after 10 s');

    // What a device syncs is read from the store every time.
    await cache.listDeviceWebhooks('u1', 'dev-1');
    await cache.listDeviceWebhooks('u1', 'dev-1');
    assert.equal(deviceReads, 2);
  } finally {
    await store.close();
    dir.remove();
  }
});
