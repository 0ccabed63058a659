import { test } from 'node:test';
import { openPostgresStore } from '../../src/server/store/postgres-store.ts';
import { createTestDatabase } from './helpers.ts';
import { retentionScenario } from '../server/retention-scenario.ts';

test('PostgreSQL: the retention purge removes each user’s finished deliveries and final messages after their settings, never a pending one, in batches', async () => {
  const db = await createTestDatabase();
  const store = await openPostgresStore(db.url, { log: () => {} });
  try {
    await retentionScenario(store);
  } finally {
    await store.close();
    await db.drop();
  }
});
