import assert from 'node:assert/strict';
import type { ReportedDelivery } from '../../src/protocol/index.ts';
import type { ServerStore } from '../../src/server/store/store.ts';
import type { MessageRecord } from '../../src/server/messages/repository.ts';
import { ServerRetentionPurger } from '../../src/server/retention.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);

/** A delivery as a device reports it: finished (succeeded, with its attempts) or pending. */
export const reportedDelivery = (id: string, state: 'succeeded' | 'pending', updatedAt: number): ReportedDelivery => {
  const attempts = state === 'pending' ? 0 : 2;
  return {
    id,
    eventId: `event-of-${id}`,
    event: 'sms:received',
    webhookId: 'hook-1',
    source: 'Local',
    url: 'https://e.com/hook',
    state,
    attempts,
    nextAttemptAt: state === 'pending' ? updatedAt : null,
    lastStatus: state === 'pending' ? null : 200,
    lastError: null,
    createdAt: updatedAt,
    updatedAt,
    attemptLog: Array.from({ length: attempts }, (_, i) => ({
      number: i + 1,
      startedAt: updatedAt + i,
      durationMs: 10,
      status: i + 1 === attempts ? 200 : 500,
      error: i + 1 === attempts ? null : 'HTTP 500',
      responsePreview: 'ok',
      outcome: i + 1 === attempts ? ('succeeded' as const) : ('retry' as const),
    })),
  };
};

export const pendingMessage = (userId: string, deviceId: string, id: string, at: number): MessageRecord => ({
  userId,
  id,
  deviceId,
  text: 'hi',
  dataPort: null,
  scheduleAt: null,
  isHashed: false,
  simNumber: null,
  withDeliveryReport: true,
  isEncrypted: false,
  priority: 0,
  validUntil: null,
  state: 'Pending',
  createdAt: at,
  updatedAt: at,
  recipients: [{ phoneNumber: '+1555000', state: 'Pending', error: null }],
  states: { Pending: at },
});

export async function addUser(store: ServerStore, id: string): Promise<string> {
  assert.equal(
    await store.users.insertUser({ id, login: id, passwordHash: 'scrypt$x$y', createdAt: T0, updatedAt: T0 }),
    'inserted',
    `user ${id} is new`,
  );
  return id;
}

export async function addDevice(store: ServerStore, userId: string, id: string): Promise<string> {
  await store.devices.insertDevice(
    {
      id,
      userId,
      name: id,
      pushToken: null,
      createdAt: T0,
      updatedAt: T0,
      lastSeen: T0,
      health: null,
      healthReportedAt: null,
      connectedAt: null,
      simCards: null,
    },
    `hash-${id}`,
  );
  return id;
}

/**
 * The server's retention purge on the injected clock, on one store: each user's own settings,
 * nothing before its time, never a pending delivery or a message that is not final, in batches.
 * The caller gives a fresh store and closes it.
 */
export async function retentionScenario(store: ServerStore): Promise<void> {
  // time moves only when the test says: each cutoff is exact
  let now = T0;
  const clock = {
    now: () => now,
    setTimeout: () => null,
    clearTimeout: () => {},
    advance: (ms: number) => (now += ms),
  };
  const purger = new ServerRetentionPurger({
    store,
    clock,
    onError: (error) => assert.fail(`the purge failed: ${String(error)}`),
  });
  // short: 1 day of webhook log, 2 days of messages; defaults: 7 days, messages kept
  const [short, defaults] = [await addUser(store, 'short'), await addUser(store, 'defaults')];
  await store.settings.patchUserSettings(
    short,
    { webhooks: { log_lifetime_days: 1 }, messages: { log_lifetime_days: 2 } },
    T0,
  );
  const [ds, dd] = [await addDevice(store, short, 'dev-short'), await addDevice(store, defaults, 'dev-defaults')];
  for (const [device, user] of [
    [ds, short],
    [dd, defaults],
  ]) {
    await store.deliveries.saveReport(
      { id: device, userId: user },
      [reportedDelivery('old-done', 'succeeded', T0), reportedDelivery('old-pending', 'pending', T0)],
      T0,
      10_000,
    );
  }
  const finish = async (device: string, id: string, state: 'Delivered' | 'Sent', at: number) =>
    assert.ok(
      await store.messages.applyStateReport(
        device,
        { id, state, recipients: [{ phoneNumber: '+1555000', state }], states: { [state]: at } },
        at,
      ),
      `the report on ${id} applied`,
    );
  for (const id of ['m-final', 'm-sent', 'm-pending'])
    await store.messages.insertMessage(pendingMessage(short, ds, id, T0));
  await store.messages.insertMessage(pendingMessage(defaults, dd, 'n-final', T0));
  await finish(ds, 'm-final', 'Delivered', T0);
  await finish(ds, 'm-sent', 'Sent', T0);
  await finish(dd, 'n-final', 'Delivered', T0);

  const deliveries = async (user: string) =>
    (await store.deliveries.listUserDeliveries(user, { limit: 100 })).map((d) => d.id).sort();
  const messages = async (user: string) =>
    (await store.messages.listUserMessages(user, {}, { limit: 100, offset: 0 })).items.map((m) => m.id).sort();

  clock.advance(DAY - 1);
  assert.deepEqual(await purger.purge(), { deliveries: 0, messages: 0 }, 'nothing goes before its retention');

  clock.advance(2);
  await store.deliveries.saveReport(
    { id: ds, userId: short },
    [reportedDelivery('new-done', 'succeeded', clock.now())],
    clock.now(),
    10_000,
  );
  assert.deepEqual(
    await purger.purge(),
    { deliveries: 1, messages: 0 },
    'a day on: the short user’s finished delivery',
  );
  assert.deepEqual(await deliveries(short), ['new-done', 'old-pending'], 'the pending one and the new one stay');
  assert.deepEqual(await deliveries(defaults), ['old-done', 'old-pending'], 'the other user keeps 7 days');
  const back = await store.deliveries.saveReport(
    { id: ds, userId: short },
    [reportedDelivery('old-done', 'succeeded', T0)],
    clock.now(),
    10_000,
  );
  assert.equal(back.newAttempts.length, 2, 'its attempts went with it: reported again, they are new');

  clock.advance(DAY);
  const twoDays = await purger.purge();
  assert.equal(twoDays.messages, 1, `two days on: the final message goes (${JSON.stringify(twoDays)})`);
  assert.deepEqual(await messages(short), ['m-pending', 'm-sent'], 'Sent and Pending are not final: they stay');
  assert.equal(await store.messages.getUserMessage(short, 'm-final'), undefined, 'the final one is gone');
  assert.deepEqual(await messages(defaults), ['n-final'], 'messages.log_lifetime_days null keeps them');

  clock.advance(5 * DAY);
  const week = await purger.purge();
  assert.deepEqual(
    await deliveries(defaults),
    ['old-pending'],
    `a week on: the default 7 days (${JSON.stringify(week)})`,
  );
  assert.deepEqual(await deliveries(short), ['old-pending'], 'a pending delivery stays, however old');
  assert.deepEqual(await messages(defaults), ['n-final'], 'still kept');

  // more than a batch: 1,200 finished deliveries all go in one purge, batch by batch
  const many = await addDevice(store, short, 'dev-many');
  const at = clock.now();
  const batch = Array.from({ length: 1200 }, (_, i) => reportedDelivery(`many-${i}`, 'succeeded', at));
  await store.deliveries.saveReport({ id: many, userId: short }, batch, at, 10_000);
  clock.advance(DAY + 1);
  assert.deepEqual(await purger.purge(), { deliveries: 1200, messages: 0 }, 'all 1,200 went');
  assert.deepEqual(
    await store.deliveries.listUserDeliveries(short, { limit: 10, deviceId: many }),
    [],
    'none of them is left',
  );
}
