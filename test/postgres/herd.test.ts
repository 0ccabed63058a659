import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPool, migratePostgres, type PgPool } from '../../src/server/store/postgres.ts';
import { PostgresDevicesRepository } from '../../src/server/devices/repository.postgres.ts';
import { PostgresSettingsRepository } from '../../src/server/settings/repository.postgres.ts';
import { PostgresUsersRepository } from '../../src/server/users/repository.postgres.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';

/**
 * A push to all of a user's devices brings them all back at once: every one looks up its token,
 * notes that it was seen, and pulls the user's settings. On PostgreSQL those calls, made together,
 * must share statements rather than take a round trip (and, for the writes, a commit) each.
 * Counted at the pool: every statement the repositories send goes through `pool.query`.
 */
const HERD = 120;

let database: TestDatabase;
let pool: PgPool;
let statements = 0;

before(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, { log: () => {} });
  await migratePostgres(pool);
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    statements++;
    return query(...args);
  };
});

after(async () => {
  await pool.end();
  await database.drop();
});

test('PostgreSQL: a herd of devices looking up tokens, noting they were seen and pulling settings shares a few statements', async () => {
  const users = new PostgresUsersRepository(pool);
  const devices = new PostgresDevicesRepository(pool);
  const settings = new PostgresSettingsRepository(pool);
  await users.insertUser({ id: 'herd-user', login: 'herd', passwordHash: 'scrypt$x$y', createdAt: 1, updatedAt: 1 });
  const ids = Array.from({ length: HERD }, (_, i) => `herd-device-${i}`);
  for (const id of ids) {
    await devices.insertDevice(
      {
        id,
        userId: 'herd-user',
        name: id,
        pushToken: null,
        createdAt: 1,
        updatedAt: 1,
        lastSeen: 1,
        health: null,
        healthReportedAt: null,
        connectedAt: null,
        simCards: null,
      },
      `hash-${id}`,
    );
  }
  await settings.patchUserSettings('herd-user', { ping: { interval_seconds: 30 } }, 1);

  statements = 0;
  const found = await Promise.all(ids.map((id) => devices.getDeviceByTokenHash(`hash-${id}`)));
  assert.deepEqual(
    found.map((d) => d?.id),
    ids,
    'each lookup finds its own device',
  );
  assert.ok(statements <= 2, `${HERD} lookups took ${statements} statements`);

  statements = 0;
  await Promise.all(ids.map((id) => devices.touchDevice(id, 50_000, 10_000)));
  assert.ok(statements <= 2, `${HERD} seen notes took ${statements} statements`);
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM devices WHERE last_seen = 50000`);
  assert.equal(rows[0].n, HERD, 'every device was noted as seen');

  statements = 0;
  const pulled = await Promise.all(ids.map(() => settings.getUserSettings('herd-user')));
  assert.ok(
    pulled.every((s) => s.ping?.interval_seconds === 30),
    'every pull has the settings',
  );
  assert.ok(statements <= 2, `${HERD} settings pulls took ${statements} statements`);
});

test('PostgreSQL: when the database cannot answer, a herd of lookups gets the error at once, not one caller after another', async () => {
  const closed = createPool(database.url, { log: () => {} });
  let sent = 0;
  const query = closed.query.bind(closed) as (...args: unknown[]) => unknown;
  (closed as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    sent++;
    return query(...args);
  };
  await closed.end(); // every statement now fails at once
  const devices = new PostgresDevicesRepository(closed);
  const settings = new PostgresSettingsRepository(closed);
  const lookups = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => devices.getDeviceByTokenHash(`hash-${i}`)),
  );
  const reads = await Promise.allSettled(Array.from({ length: 50 }, () => settings.getUserSettings('herd-user')));
  const touches = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => devices.touchDevice(`herd-device-${i}`, 60_000, 0)),
  );
  for (const results of [lookups, reads, touches])
    assert.ok(
      results.every((r) => r.status === 'rejected'),
      'every caller hears of the failure',
    );
  assert.ok(sent <= 3, `150 calls sent ${sent} statements`);
});
