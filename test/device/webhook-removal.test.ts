import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { basic, call } from '../server/helpers.ts';
import { MIGRATIONS, openDatabase } from '../../src/device/store/database.ts';
import { openMigratedSqlite } from '../../src/shared/sqlite.ts';
import { Outbox } from '../../src/device/store/outbox.ts';
import { WebhookStore } from '../../src/device/store/webhooks.ts';

/**
 * A webhook deleted, or replaced by one with another URL or event, ends its pending deliveries:
 * they become `cancelled` in the delivery log and are never attempted again. On the device's Local
 * list, and on the Cloud list when the server's user deletes a webhook and the device syncs.
 */

// 10 s → 100 ms: a failing receiver sees a retry every few hundred ms
const SCALE = 0.01;
let receiver: TestReceiver;

before(async () => {
  receiver = await new TestReceiver().start();
  receiver.responder = () => 500;
});
after(() => receiver.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hits = (path: string) => receiver.requests.filter((r) => r.path === path).length;

test('deleting a Local webhook cancels its pending deliveries: shown cancelled, never attempted again, not redeliverable', async () => {
  const device = await startTestDevice({ timeScale: SCALE });
  try {
    const kept = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/kept`, event: 'sms:received' });
    const doomed = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/doomed`, event: 'sms:received' });
    const sms = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'retry me' });
    assert.equal(sms.status, 202);
    await receiver.waitFor(4, 5000); // both have failed at least once (and been retried)
    const byHook = async (id: string) => (await device.api.call('GET', `/deliveries?webhookId=${id}`)).body.items[0];
    const doomedDelivery = await byHook(doomed.body.id);
    assert.equal(doomedDelivery.state === 'pending' || doomedDelivery.state === 'sending', true);

    assert.equal((await device.api.call('DELETE', `/webhooks/${doomed.body.id}`)).status, 204);
    const cancelled = (await device.api.call('GET', `/deliveries/${doomedDelivery.id}`)).body;
    assert.equal(cancelled.state, 'cancelled');
    assert.equal(cancelled.nextAttemptAt, null);
    assert.match(cancelled.lastError, /webhook was deleted/);
    const attemptsThen = cancelled.attemptLog.length;
    assert.ok(attemptsThen >= 1);

    // A few retry periods later: the kept webhook is still being retried, the deleted one never again.
    const doomedHits = hits('/doomed');
    const keptHits = hits('/kept');
    await sleep(1200);
    assert.ok(hits('/kept') > keptHits, 'the other webhook is still retried');
    // an attempt that was in flight at the deletion may still land; nothing after it
    assert.ok(hits('/doomed') <= doomedHits + 1, `no attempts after the deletion (${hits('/doomed') - doomedHits})`);
    const later = (await device.api.call('GET', `/deliveries/${doomedDelivery.id}`)).body;
    assert.equal(later.state, 'cancelled');
    assert.equal(later.attemptLog.length, attemptsThen, 'no attempt recorded after the cancellation');

    const listed = await device.api.call('GET', '/deliveries?state=cancelled');
    assert.deepEqual(
      listed.body.items.map((d: { id: string }) => d.id),
      [doomedDelivery.id],
    );
    const redeliver = await device.api.call('POST', `/deliveries/${doomedDelivery.id}/redeliver`);
    assert.equal(redeliver.status, 409);
    assert.match(redeliver.body.message, /cancelled because its webhook was deleted or replaced/);
    const overview = await device.api.call('GET', '/dashboard/overview');
    assert.equal(overview.body.queue.cancelled, 1);
    assert.equal((await byHook(kept.body.id)).state !== 'cancelled', true);
    const health = (await device.api.call('GET', '/health')).body;
    assert.equal(health.checks['webhooks:failed'].observedValue, 0, 'a cancelled delivery is not a failed one');
  } finally {
    await device.cleanup();
  }
});

test('replacing a Local webhook with another URL cancels its pending deliveries; registering the same one again keeps them', async () => {
  const device = await startTestDevice({ timeScale: SCALE });
  try {
    const hook = { id: 'self-registering', url: `${receiver.url}/same`, event: 'sms:received' };
    assert.equal((await device.api.call('POST', '/webhooks', hook)).status, 201);
    await device.api.call('POST', '/sim/v1/incoming', { from: '+15550101', text: 'one' });
    const deliveryOf = async () =>
      (await device.api.call('GET', `/deliveries?webhookId=${hook.id}`)).body.items[0] as { id: string; state: string };
    const first = await deliveryOf();
    await eventually(async () => hits('/same') >= 1, 'the first attempt');

    // the same URL and event again, as a receiver that registers itself at every start does
    assert.equal((await device.api.call('POST', '/webhooks', hook)).status, 201);
    assert.notEqual((await device.api.call('GET', `/deliveries/${first.id}`)).body.state, 'cancelled');

    const moved = { ...hook, url: `${receiver.url}/moved` };
    assert.equal((await device.api.call('POST', '/webhooks', moved)).status, 201);
    const after = (await device.api.call('GET', `/deliveries/${first.id}`)).body;
    assert.equal(after.state, 'cancelled');
    assert.match(after.lastError, /replaced by one with another URL or event/);
    const sameHits = hits('/same');
    await sleep(800);
    assert.ok(hits('/same') <= sameHits + 1, 'the old URL is not retried');
    assert.equal(hits('/moved'), 0, 'the old delivery is not sent to the new URL either');
  } finally {
    await device.cleanup();
  }
});

test('a Cloud webhook deleted on the server: the device cancels its pending deliveries at the sync, and the server shows them cancelled', async () => {
  const serverDir = tempDir();
  let server: RunningServer | undefined;
  let device: Awaited<ReturnType<typeof startTestDevice>> | undefined;
  try {
    server = await createServer({ dataDir: serverDir.path, port: 0, keepAliveMs: 300 });
    device = await startTestDevice({
      timeScale: SCALE,
      link: {
        serverUrl: server.url,
        privateToken: server.privateToken,
        name: 'cloud phone',
        reconnect: { minDelayMs: 100, maxDelayMs: 500 },
        log: () => {},
      },
    });
    const auth = basic(device.link!.registration.login, device.link!.createdPassword!);
    const thirdParty = (method: string, path: string, body?: unknown) =>
      call(`${server!.thirdPartyUrl}${path}`, method, { auth, body });
    const linked = device;
    const hook = await thirdParty('POST', '/webhooks', { url: `${receiver.url}/cloud-gone`, event: 'sms:received' });
    assert.equal(hook.status, 201);
    await eventually(() => linked.context.webhooks.list('Cloud').length === 1, 'the Cloud webhook on the device');

    await linked.api.call('POST', '/sim/v1/incoming', { from: '+15550102', text: 'cloud' });
    const delivery = (await linked.api.call('GET', `/deliveries?webhookId=${hook.body.id}`)).body.items[0];
    await eventually(async () => hits('/cloud-gone') >= 2, 'two failed attempts');

    assert.equal((await thirdParty('DELETE', `/webhooks/${hook.body.id}`)).status, 204);
    await eventually(
      async () => (await linked.api.call('GET', `/deliveries/${delivery.id}`)).body.state === 'cancelled',
      'cancelled on the device after the sync',
    );
    const gone = hits('/cloud-gone');
    const onServer = await eventually(async () => {
      const reply = await thirdParty('GET', `/deliveries/${delivery.id}`);
      return reply.body.state === 'cancelled' ? reply.body : undefined;
    }, 'cancelled in the server copy');
    assert.match(onServer.lastError, /webhook was deleted/);
    const redeliver = await thirdParty('POST', `/deliveries/${delivery.id}/redeliver`);
    assert.equal(redeliver.status, 409);
    await sleep(800);
    assert.ok(hits('/cloud-gone') <= gone + 1, 'never attempted after the sync');
  } finally {
    await device?.cleanup();
    await server?.close();
    serverDir.remove();
  }
});

test('a device database from before cancellation keeps its deliveries and attempts through the upgrade', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'device.db');
    const old = openMigratedSqlite(file, MIGRATIONS.slice(0, 5), 'device');
    old.exec(`
      INSERT INTO events (seq, id, event, payload, created_at) VALUES (1, 'e1', 'sms:received', '{}', 1);
      INSERT INTO deliveries (seq, id, event_seq, event, webhook_source, webhook_id, url, body, state, attempts, next_attempt_at, created_at, updated_at)
        VALUES (1, 'd1', 1, 'sms:received', 'Local', 'w1', 'http://127.0.0.1:1/', '{}', 'pending', 1, 5, 1, 2),
               (2, 'd2', 1, 'sms:received', 'Local', 'w2', 'http://127.0.0.1:1/', '{}', 'failed', 2, 5, 1, 2);
      INSERT INTO attempts (delivery_seq, number, started_at, duration_ms, status) VALUES (1, 1, 1, 3, 500), (2, 1, 1, 3, 500), (2, 2, 2, 3, 502);
    `);
    old.close();
    const db = openDatabase(file);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.deepEqual(db.prepare('SELECT id, event_id, state, attempts FROM deliveries ORDER BY seq').all(), [
        { id: 'd1', event_id: 'e1', state: 'pending', attempts: 1 },
        { id: 'd2', event_id: 'e1', state: 'failed', attempts: 2 },
      ]);
      assert.equal((db.prepare('SELECT count(*) AS n FROM attempts').get() as { n: number }).n, 3);
      db.prepare(`UPDATE deliveries SET state = 'cancelled' WHERE id = 'd1'`).run();
      assert.throws(() => db.prepare(`UPDATE deliveries SET state = 'lost' WHERE id = 'd1'`).run(), /CHECK/);
      // attempts still point at the deliveries
      assert.throws(
        () =>
          db.prepare('INSERT INTO attempts (delivery_seq, number, started_at, duration_ms) VALUES (99, 1, 1, 1)').run(),
        /FOREIGN KEY/,
      );
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    } finally {
      db.close();
    }
  } finally {
    dir.remove();
  }
});

test('the webhooks an event goes to follow every change of the list, and a change that rolled back changes nothing', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'device.db'));
  try {
    const outbox = new Outbox(db);
    const store = new WebhookStore(db, outbox);
    const ids = () => store.matching('sms:received').map((hook) => `${hook.source}:${hook.id}`);
    const hook = (id: string, url = `https://example.com/${id}`) => ({
      id,
      url,
      event: 'sms:received' as const,
      deviceId: null,
    });
    assert.deepEqual(ids(), [], 'no webhook yet');
    store.upsert({ ...hook('a'), source: 'Local' }, 1);
    assert.deepEqual(ids(), ['Local:a'], 'an added webhook is matched at once');
    store.replaceCloud([hook('c')], 2);
    assert.deepEqual(ids(), ['Local:a', 'Cloud:c'], 'the Cloud list synced in is matched');
    store.upsert({ ...hook('a'), event: 'sms:sent', source: 'Local' }, 3);
    assert.deepEqual(ids(), ['Cloud:c'], 'a webhook moved to another event is not matched any more');
    store.remove('Cloud', 'c', 4);
    assert.deepEqual(ids(), [], 'a deleted webhook is not matched any more');
    store.upsert({ ...hook('b'), source: 'Local' }, 5);
    // The transaction fails after its write: the list, and what is matched, stay as they were.
    const failing = new WebhookStore(db, {
      cancelForWebhook: () => {
        throw new Error('disk full');
      },
    });
    assert.deepEqual(
      failing.matching('sms:received').map((h) => h.id),
      ['b'],
      'read before the failed change',
    );
    assert.throws(
      () => failing.upsert({ ...hook('b', 'https://example.com/elsewhere'), source: 'Local' }, 6),
      /disk full/,
    );
    assert.deepEqual(
      failing.matching('sms:received').map((h) => h.url),
      ['https://example.com/b'],
      'the URL is the one the rolled-back change left',
    );
  } finally {
    db.close();
    dir.remove();
  }
});
