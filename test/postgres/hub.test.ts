import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, query, type TestDatabase } from './helpers.ts';
import { openPostgresStore } from '../../src/server/store/postgres-store.ts';
import type { ServerStore } from '../../src/server/store/store.ts';
import { PostgresPushHub, userEventNotification } from '../../src/server/push/hub.postgres.ts';
import { createPool } from '../../src/server/store/postgres.ts';
import type { ActivityNotice } from '../../src/server/push/hub.ts';
import type { PushEvent } from '../../src/protocol/index.ts';
import { eventually } from '../server/helpers.ts';
import { mobileMessage } from '../helpers/mobile-message.ts';

/** Two "nodes": two stores (two pools) on one database, each with its LISTEN/NOTIFY hub. */
let db: TestDatabase;
let stores: ServerStore[] = [];
let a: PostgresPushHub;
let b: PostgresPushHub;
const logs: string[] = [];

before(async () => {
  db = await createTestDatabase();
  stores = await Promise.all(
    [0, 1].map(() =>
      openPostgresStore(db.url, { log: (l) => logs.push(l), listenReconnect: { minDelayMs: 50, maxDelayMs: 200 } }),
    ),
  );
  [a, b] = (await Promise.all(stores.map((s) => s.openPushHub()))) as PostgresPushHub[];
});
after(async () => {
  await a?.close();
  await b?.close();
  for (const s of stores) await s.close();
  await db?.drop();
});

const collect = (hub: PostgresPushHub, deviceId: string, userId = 'user-x') => {
  const got: PushEvent[] = [];
  const unsubscribe = hub.subscribe({ id: deviceId, userId }, (e) => got.push(e));
  return { got, unsubscribe };
};

test('an event published on one node reaches the device on the other, once; the publisher delivers its own at once', async () => {
  const onB = collect(b, 'dev-1');
  const onA = collect(a, 'dev-1');
  const other = collect(b, 'dev-2');
  await a.publish(['dev-1', 'dev-1'], { type: 'MessageEnqueued', data: { id: 'm-1' } });
  assert.deepEqual(
    onA.got,
    [{ type: 'MessageEnqueued', data: { id: 'm-1' } }],
    'local streams get it before publish resolves',
  );
  await eventually(() => onB.got.length === 1, 'the event on node B', 3000);
  assert.deepEqual(onB.got[0], { type: 'MessageEnqueued', data: { id: 'm-1' } });
  // Give a duplicate (its own NOTIFY coming back to A, or a second copy to B) time to show up.
  await b.publish(['dev-3'], { type: 'SettingsUpdated', data: {} });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(onA.got.length, 1, 'A ignores its own notification');
  assert.equal(onB.got.length, 1, 'one notification, one delivery (device ids are deduplicated)');
  assert.equal(other.got.length, 0, 'another device gets nothing');
  for (const c of [onA, onB, other]) c.unsubscribe();
});

test('a pushed message travels to the other node with its content, unless it is too large for a notification: then as a pull hint', async () => {
  const onB = collect(b, 'dev-content');
  const pushed = (text: string) => mobileMessage(`m-${text.length}`, text);
  const small = pushed('hello');
  const large = pushed('x'.repeat(4000)); // twice in the message: over PostgreSQL's 8000 bytes
  await a.publish(['dev-content'], { type: 'MessageEnqueued', data: { id: small.id, message: small } });
  await a.publish(['dev-content'], { type: 'MessageEnqueued', data: { id: large.id, message: large } });
  await eventually(() => onB.got.length === 2, 'both events on node B', 3000);
  assert.deepEqual(onB.got, [
    { type: 'MessageEnqueued', data: { id: small.id, message: small } },
    { type: 'MessageEnqueued', data: { id: large.id } },
  ]);
  onB.unsubscribe();
});
test('an event for more devices than one NOTIFY payload holds reaches all of them', async () => {
  const ids = Array.from({ length: 1500 }, (_, i) => `device-${String(i).padStart(15, '0')}`);
  let received = 0;
  const unsubscribes = ids.map((id) => b.subscribe({ id, userId: 'user-many' }, () => received++));
  await a.publish(ids, { type: 'WebhooksUpdated', data: {} });
  await eventually(() => received === ids.length, `all ${ids.length} devices (got ${received})`, 5000);
  for (const u of unsubscribes) u();
});

test("an event for a user reaches that user's devices on every node, and every node's watchers, in one small notification", async () => {
  const watched: string[] = [];
  const stopWatching = b.watch({
    userEvent: (userId, event) => watched.push(`${userId} ${event.type}`),
    gap: () => watched.push('gap'),
  });
  const onA = collect(a, 'dev-u1', 'user-1');
  const onB = collect(b, 'dev-u2', 'user-1');
  const otherUser = collect(b, 'dev-u3', 'user-2');
  await a.publishToUser('user-1', { type: 'SettingsUpdated', data: {} });
  assert.deepEqual(
    onA.got.map((e) => e.type),
    ['SettingsUpdated'],
    'the publisher delivers its own at once',
  );
  await eventually(() => onB.got.length === 1, "the user's device on node B", 3000);
  assert.deepEqual(watched, ['user-1 SettingsUpdated']);

  // What a write statement sends (no origin node): every node delivers it, the one that ran it too.
  const { channel, payload } = userEventNotification('user-1', 'WebhooksUpdated');
  assert.ok(payload.length < 100, `a short payload whatever the number of devices (${payload})`);
  await query(db.url, 'SELECT pg_notify($1, $2)', [channel, payload]);
  await eventually(() => onA.got.length === 2 && onB.got.length === 2, 'both nodes', 3000);
  assert.deepEqual(watched, ['user-1 SettingsUpdated', 'user-1 WebhooksUpdated']);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(otherUser.got.length, 0, "another user's device gets nothing");
  assert.equal(onA.got.length, 2, 'once each');
  for (const c of [onA, onB, otherUser]) c.unsubscribe();
  stopWatching();
});

test("activity notices reach the user's dashboards on every node, once, split to fit; never a device's push stream", async () => {
  const onA: ActivityNotice[] = [];
  const onB: ActivityNotice[] = [];
  const otherUser: ActivityNotice[] = [];
  const stops = [
    a.subscribeActivity('user-act', (n) => onA.push(n)),
    b.subscribeActivity('user-act', (n) => onB.push(n)),
    b.subscribeActivity('user-other', (n) => otherUser.push(n)),
  ];
  const device = collect(b, 'dev-act', 'user-act');
  // about 300 bytes each: more than one notification's worth
  const notices: ActivityNotice[] = Array.from({ length: 60 }, (_, i) => ({
    type: 'attempt',
    data: { deliveryId: `delivery-${i}`, attempt: 1, error: 'x'.repeat(250) },
  }));
  await a.publishActivity('user-act', notices);
  assert.equal(onA.length, 60, 'the publisher delivers its own at once');
  await eventually(() => onB.length === 60, `all notices on node B (got ${onB.length})`, 3000);
  assert.deepEqual(
    onB.map((n) => n.data.deliveryId),
    notices.map((n) => n.data.deliveryId),
    'in order',
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    [onA.length, onB.length, otherUser.length, device.got.length],
    [60, 60, 0, 0],
    "once each; nothing for another user or for the user's device",
  );
  for (const stop of stops) stop();
  device.unsubscribe();
});

test('a lost LISTEN connection comes back by itself, tells every local device to re-pull, and carries events again', async () => {
  const gaps: boolean[] = [];
  const stopWatching = b.watch({ userEvent: () => {}, gap: () => gaps.push(b.complete) });
  const d1 = collect(b, 'dev-r1');
  const d2 = collect(b, 'dev-r2');
  assert.equal(b.reconnects, 0);
  assert.equal(b.health()['events:listen'].status, 'pass');
  const pid = (b as unknown as { listener: { processID: number } }).listener.processID;
  const [killed] = await query(db.url, 'SELECT pg_terminate_backend($1) AS ok', [pid]);
  assert.equal(killed.ok, true, "B's LISTEN backend was terminated");

  await eventually(() => b.reconnects === 1, 'B to reconnect', 5000);
  const types = (got: PushEvent[]) => got.map((e) => e.type).sort();
  await eventually(() => d1.got.length === 3 && d2.got.length === 3, 'the re-pull events', 2000);
  assert.deepEqual(
    types(d1.got),
    ['MessageEnqueued', 'SettingsUpdated', 'WebhooksUpdated'],
    'every push type, so the device pulls everything',
  );
  assert.deepEqual(types(d2.got), ['MessageEnqueued', 'SettingsUpdated', 'WebhooksUpdated']);
  assert.equal(b.health()['events:listen'].status, 'pass');
  assert.equal(b.health()['events:listen'].observedValue, 1);
  assert.equal(a.reconnects, 0, "A's connection was not touched");
  assert.ok(
    logs.some((l) => /LISTEN connection was lost/.test(l)),
    'the loss is logged',
  );
  assert.deepEqual(
    gaps,
    [false, true],
    'watchers hear of the gap when the loss is noticed (incomplete) and when the connection is back',
  );
  stopWatching();

  await a.publish(['dev-r1'], { type: 'WebhooksUpdated', data: {} });
  await eventually(() => d1.got.length === 4, 'a new event after the reconnect', 3000);
  assert.equal(d2.got.length, 3);
  d1.unsubscribe();
  d2.unsubscribe();
});

test('close ends the LISTEN connection; nothing reconnects after it', async () => {
  const store = await openPostgresStore(db.url, { log: () => {} });
  const hub = (await store.openPushHub()) as PostgresPushHub;
  const listening = async () =>
    (
      await query(
        db.url,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'smsgate-listen' AND datname = $1`,
        [db.name],
      )
    )[0].n;
  assert.equal(await listening(), 3, 'A, B and this one');
  await hub.close();
  await store.close();
  await eventually(async () => (await listening()) === 2, 'its LISTEN connection to be gone', 2000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await listening(), 2);
  assert.equal(hub.reconnects, 0);
});

test('the other nodes are notified before the publisher writes to its own streams, which would hold them back', async () => {
  const pool = createPool(db.url, { log: () => {} });
  const hub = await PostgresPushHub.start({ url: db.url, pool, log: () => {} });
  const notifies: string[] = [];
  const poolQuery = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const text = (args[0] as { text?: string }).text ?? '';
    if (text.includes('pg_notify')) notifies.push(text);
    return poolQuery(...args);
  }) as typeof pool.query;
  try {
    const notifiedAtDelivery: number[] = [];
    const unsubscribe = hub.subscribe({ id: 'dev-order', userId: 'user-order' }, () =>
      notifiedAtDelivery.push(notifies.length),
    );
    const onB = collect(b, 'dev-order-b', 'user-order');
    await hub.publishToUser('user-order', { type: 'SettingsUpdated', data: {} });
    assert.deepEqual(notifiedAtDelivery, [1], 'the NOTIFY was sent before the local stream got the user event');
    await hub.publish(['dev-order', 'dev-order-b'], { type: 'MessageEnqueued', data: { id: 'm-order' } });
    assert.deepEqual(notifiedAtDelivery, [1, 2], 'the same for an event to a list of devices');
    await eventually(() => onB.got.length === 2, 'both events on the other node', 3000);
    unsubscribe();
    onB.unsubscribe();
  } finally {
    await hub.close();
    await pool.end();
  }
});
