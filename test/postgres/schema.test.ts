import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createTestDatabase, query } from './helpers.ts';
import { tempDir } from '../helpers/common.ts';
import { postgresSchema, schemaDifference, sqliteSchema, type SchemaLines } from '../helpers/schema.ts';
import { LEGACY } from '../fixtures/schema-v3/data.ts';
import { serverMigrations } from '../../src/server/store/migrations.ts';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import { openPostgresStore } from '../../src/server/store/postgres-store.ts';
import type { ServerStore } from '../../src/server/store/store.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/schema-v3');
const MIGRATIONS_DIR = join(import.meta.dirname, '../../src/server/store/migrations');

/** Fails with the lines each side has alone: what drifted, said plainly. */
function assertSameSchema(a: SchemaLines, b: SchemaLines, aName: string, bName: string): void {
  const { onlyInA, onlyInB } = schemaDifference(a, b);
  const lines = [...onlyInA.map((l) => `  only in ${aName}: ${l}`), ...onlyInB.map((l) => `  only in ${bName}: ${l}`)];
  assert.equal(lines.length, 0, `the schemas differ:\n${lines.join('\n')}`);
}

async function freshSqliteSchema(): Promise<SchemaLines> {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'fresh.db');
    await openSqliteStore(file).close();
    const db = new Database(file, { readonly: true });
    try {
      return sqliteSchema(db);
    } finally {
      db.close();
    }
  } finally {
    dir.remove();
  }
}

async function freshPostgresSchema(): Promise<SchemaLines> {
  const db = await createTestDatabase();
  try {
    await (await openPostgresStore(db.url, { log: () => {} })).close();
    return await postgresSchema(db.url);
  } finally {
    await db.drop();
  }
}

test('the migration folders are numbered alike: version N is one file in each dialect, of the same name', () => {
  const sqlite = readdirSync(join(MIGRATIONS_DIR, 'sqlite')).sort();
  const postgres = readdirSync(join(MIGRATIONS_DIR, 'postgres')).sort();
  assert.deepEqual(sqlite, postgres);
  assert.deepEqual(
    serverMigrations('sqlite').map((m) => [m.version, m.name]),
    serverMigrations('postgres').map((m) => [m.version, m.name]),
  );
  assert.ok(sqlite.length >= 4);
});

test('a fresh SQLite file and a fresh PostgreSQL database have the same schema: tables, columns, keys, indexes', async () => {
  const [sqlite, postgres] = await Promise.all([freshSqliteSchema(), freshPostgresSchema()]);
  assert.ok(sqlite.includes('column messages.device_id text not null'), 'the introspection sees columns');
  assert.ok(sqlite.includes('index messages.messages_by_device (device_id, id)'), 'and indexes with their keys');
  assertSameSchema(sqlite, postgres, 'SQLite', 'PostgreSQL');
});

test('on PostgreSQL every text column in a key or an index sorts byte by byte ("C"), as on SQLite', async () => {
  const db = await createTestDatabase();
  try {
    await (await openPostgresStore(db.url, { log: () => {} })).close();
    const columns = await query<{ column: string; collation: string }>(
      db.url,
      `SELECT DISTINCT t.relname || '.' || a.attname AS column, coalesce(c.collname, 'default') AS collation
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace ns ON ns.oid = t.relnamespace AND ns.nspname = current_schema()
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         LEFT JOIN pg_collation c ON c.oid = a.attcollation
        WHERE a.atttypid = 'text'::regtype AND t.relname <> 'smsgate_schema'`,
    );
    assert.ok(columns.length > 10, 'the key columns were seen');
    // a token's hash is only ever compared for equality, never sorted
    const notBytewise = columns.filter((c) => c.collation !== 'C').map((c) => c.column);
    assert.deepEqual(notBytewise, ['devices.token_hash']);
  } finally {
    await db.drop();
  }
});

/** Everything data.ts wrote at schema version 3, read back through today's repositories. */
async function assertLegacyData(store: ServerStore): Promise<void> {
  assert.equal(await store.meta.getMeta('private_token'), LEGACY.privateToken);
  for (const user of LEGACY.users) assert.deepEqual(await store.users.getUserByLogin(user.login), user);
  const listed = await store.users.listUsers();
  assert.deepEqual(
    listed.map((u) => [u.login, u.deviceCount]),
    [
      ['alice', 1],
      ['bob', 1],
    ],
  );

  const a1 = (await store.devices.getDeviceByTokenHash('token-hash-a1'))!;
  assert.equal(a1.id, 'device-a1');
  assert.deepEqual(a1.health, LEGACY.health);
  assert.equal(a1.healthReportedAt, LEGACY.healthReportedAt);
  assert.equal(a1.lastSeen, LEGACY.healthReportedAt, 'a health report counts as seen');
  assert.deepEqual(await store.devices.getLocalWebhooks('user-a', 'device-a1'), {
    webhooks: LEGACY.localWebhooks,
    reportedAt: LEGACY.localWebhooksReportedAt,
  });
  assert.deepEqual(await store.devices.queueDepthTotals(), { sum: 3, max: 3 });
  assert.equal((await store.devices.getUserDevice('user-b', 'device-b1'))!.name, 'phone b1');

  assert.deepEqual(await store.webhooks.listUserWebhooks('user-a'), LEGACY.webhooks);
  assert.deepEqual(await store.settings.getUserSettings('user-a'), LEGACY.settings);

  assert.deepEqual(await store.messages.getUserMessage('user-a', 'msg-pending'), LEGACY.messages[0]);
  assert.deepEqual(await store.messages.getUserMessage('user-a', 'msg-sent'), {
    ...LEGACY.messages[1],
    state: 'Sent',
    updatedAt: LEGACY.stateReportAt,
    recipients: [
      { phoneNumber: '+15550002', state: 'Sent', error: null },
      { phoneNumber: '+15550003', state: 'Failed', error: 'no signal' },
    ],
    states: { Pending: 1_700_000_601_000, Processed: 1_700_000_602_000, Sent: 1_700_000_603_000 },
  });
  assert.deepEqual(
    (await store.messages.listPendingForDevice('device-a1', 10, 'fifo')).map((m) => m.id),
    ['msg-pending'],
  );

  const delivery = (await store.deliveries.getUserDelivery('user-a', 'delivery-1'))!;
  assert.deepEqual(
    [delivery.seq, delivery.state, delivery.attempts, delivery.reportedAt],
    [1, 'succeeded', 2, LEGACY.deliveriesReportedAt],
  );
  assert.deepEqual(
    delivery.attemptLog,
    LEGACY.deliveries[0].attemptLog.map((a) => ({ ...a })),
  );
  assert.deepEqual(
    (await store.deliveries.listUserDeliveries('user-a', { limit: 10 })).map((d) => [d.seq, d.id]),
    [
      [2, 'delivery-2'],
      [1, 'delivery-1'],
    ],
  );
}

/** The upgraded database takes new writes as a fresh one would (its keys and sequences go on). */
async function assertWritable(store: ServerStore): Promise<void> {
  await store.messages.insertMessage({ ...LEGACY.messages[0], id: 'msg-new', createdAt: 1_800_000_000_000 });
  assert.equal(
    await store.messages.applyStateReport(
      'device-a1',
      { id: 'msg-new', state: 'Processed', recipients: [], states: { Processed: 1_800_000_000_001 } },
      1_800_000_000_002,
    ),
    true,
  );
  assert.equal((await store.messages.getUserMessage('user-a', 'msg-new'))!.state, 'Processed');
  const saved = await store.deliveries.saveReport(
    { id: 'device-a1', userId: 'user-a' },
    [{ ...LEGACY.deliveries[1], id: 'delivery-3' }],
    1_800_000_000_003,
    10_000,
  );
  assert.deepEqual(saved.changed, [{ id: 'delivery-3', state: 'pending', attempts: 0 }]);
  assert.equal((await store.deliveries.getUserDelivery('user-a', 'delivery-3'))!.seq, 3);
  assert.equal(
    await store.users.insertUser({ ...LEGACY.users[0], id: 'user-c' }),
    'login-taken',
    'the UNIQUE login came through',
  );
}

test('a SQLite database made at schema version 3 upgrades in place, keeps its data and ends like a fresh one', async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'server.db');
    copyFileSync(join(FIXTURES, 'server.db'), file);
    const before = new Database(file, { readonly: true });
    assert.equal(before.pragma('user_version', { simple: true }), 3);
    before.close();

    const store = openSqliteStore(file);
    try {
      await assertLegacyData(store);
      await assertWritable(store);
    } finally {
      await store.close();
    }
    const after = new Database(file, { readonly: true });
    try {
      assert.equal(after.pragma('user_version', { simple: true }), serverMigrations('sqlite').length);
      assertSameSchema(sqliteSchema(after), await freshSqliteSchema(), 'the upgraded file', 'a fresh file');
    } finally {
      after.close();
    }
    // and a second open applies nothing
    const again = openSqliteStore(file);
    await again.close();
  } finally {
    dir.remove();
  }
});

test('a PostgreSQL database made at schema version 3 upgrades in place, keeps its data and ends like a fresh one', async () => {
  const db = await createTestDatabase();
  try {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(readFileSync(join(FIXTURES, 'postgres.sql'), 'utf8'));
    await client.end();
    const applied = await query<{ version: number; applied_at: number }>(
      db.url,
      'SELECT version, applied_at::float8 AS applied_at FROM smsgate_schema ORDER BY version',
    );
    assert.deepEqual(
      applied.map((r) => r.version),
      [1, 2, 3],
    );

    const store = await openPostgresStore(db.url, { log: () => {} });
    try {
      await assertLegacyData(store);
      await assertWritable(store);
    } finally {
      await store.close();
    }
    const after = await query<{ version: number; applied_at: number }>(
      db.url,
      'SELECT version, applied_at::float8 AS applied_at FROM smsgate_schema ORDER BY version',
    );
    assert.deepEqual(
      after.map((r) => r.version),
      serverMigrations('postgres').map((m) => m.version),
    );
    assert.deepEqual(after.slice(0, 3), applied, 'the versions applied before are kept as they were');
    assertSameSchema(await postgresSchema(db.url), await freshPostgresSchema(), 'the upgraded database', 'a fresh one');
  } finally {
    await db.drop();
  }
});
