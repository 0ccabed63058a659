import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import { jumpingClock } from '../helpers/clock.ts';
import { startTestServer, tempDir, eventually } from './helpers.ts';
import { addDevice, addUser, reportedDelivery, retentionScenario } from './retention-scenario.ts';

const DAY = 24 * 60 * 60 * 1000;

test('SQLite: the retention purge removes each user’s finished deliveries and final messages after their settings, never a pending one, in batches', async () => {
  const dir = tempDir();
  const store = openSqliteStore(join(dir.path, 'server.db'));
  try {
    await retentionScenario(store);
  } finally {
    await store.close();
    dir.remove();
  }
});

test('a running server purges on its own clock, every minute', async () => {
  const clock = jumpingClock(Date.UTC(2026, 0, 1));
  const server = await startTestServer({ clock });
  try {
    const { store } = server.context;
    const user = await addUser(store, 'timer-user');
    const device = await addDevice(store, user, 'timer-device');
    await store.deliveries.saveReport(
      { id: device, userId: user },
      [reportedDelivery('done', 'succeeded', clock.now())],
      clock.now(),
      100,
    );
    clock.advance(7 * DAY + 60_000);
    await eventually(
      async () => (await store.deliveries.getUserDelivery(user, 'done')) === undefined,
      'the finished delivery is purged a week on (webhooks.log_lifetime_days defaults to 7)',
      30_000,
    );
    assert.equal(await store.deliveries.getUserDelivery(user, 'done'), undefined, 'gone');
  } finally {
    await server.cleanup();
  }
});
