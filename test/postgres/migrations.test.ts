import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, query } from './helpers.ts';
import { openPostgresStore } from '../../src/server/store/postgres-store.ts';
import { parseStoreSpec } from '../../src/server/store/store.ts';
import { openStore } from '../../src/server/store/open.ts';
import { serverMigrations } from '../../src/server/store/migrations.ts';

test('nodes starting at once on a fresh database migrate it once (advisory lock) and all come up', async () => {
  const db = await createTestDatabase();
  const stores = [];
  try {
    const opened = await Promise.allSettled(
      Array.from({ length: 4 }, () => openPostgresStore(db.url, { log: () => {} })),
    );
    for (const o of opened) if (o.status === 'fulfilled') stores.push(o.value);
    assert.deepEqual(
      opened.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
      String(
        opened.find((o) => o.status === 'rejected') &&
          (opened.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
      ),
    );
    const versions = await query<{ version: number }>(db.url, 'SELECT version FROM smsgate_schema ORDER BY version');
    assert.deepEqual(
      versions.map((v) => v.version),
      serverMigrations('postgres').map((m) => m.version),
      'each version applied exactly once',
    );
    // the stores work and share the data
    await stores[0].meta.setMetaIfAbsent('shared', 'yes');
    assert.equal(await stores[3].meta.getMeta('shared'), 'yes');
  } finally {
    for (const s of stores) await s.close();
    await db.drop();
  }
});

test('reopening applies nothing twice and keeps the data; a newer schema is refused with advice', async () => {
  const db = await createTestDatabase();
  try {
    const first = await openStore(parseStoreSpec(db.url));
    assert.equal(first.kind, 'postgres');
    await first.meta.setMetaIfAbsent('kept', 'yes');
    await first.close();
    const second = await openPostgresStore(db.url, { log: () => {} });
    assert.equal(await second.meta.getMeta('kept'), 'yes');
    await second.close();
    assert.equal(
      (await query(db.url, 'SELECT count(*)::int AS n FROM smsgate_schema'))[0].n,
      serverMigrations('postgres').length,
    );

    await query(db.url, 'INSERT INTO smsgate_schema (version, applied_at) VALUES ($1, 0)', [
      serverMigrations('postgres').length + 1,
    ]);
    await assert.rejects(openPostgresStore(db.url, { log: () => {} }), /newer than this smsgate.*upgrade smsgate/);
  } finally {
    await db.drop();
  }
});

test('the location never shows the password; a missing database or server is explained', async () => {
  const db = await createTestDatabase();
  try {
    const withPassword = new URL(db.url);
    withPassword.password = 's3cret'; // trust auth ignores it
    const store = await openPostgresStore(withPassword.toString(), { log: () => {} });
    const masked = new URL(db.url);
    masked.password = '***';
    assert.equal(store.location, masked.toString());
    assert.doesNotMatch(store.location, /s3cret/);
    await store.health.ping();
    await store.close();
    await assert.rejects(store.health.ping(), /closed/);
  } finally {
    await db.drop();
  }
  const missing = new URL(db.url);
  missing.pathname = '/smsgate_test_does_not_exist';
  await assert.rejects(
    openPostgresStore(missing.toString(), { log: () => {} }),
    /database "smsgate_test_does_not_exist" does not exist; create it first/,
  );
  await assert.rejects(openPostgresStore('postgres://postgres:pw@127.0.0.1:1/x', { log: () => {} }), (error: Error) => {
    assert.match(
      error.message,
      /cannot reach PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x \(ECONNREFUSED\)/,
    );
    assert.doesNotMatch(error.message, /pw@/);
    return true;
  });
});
