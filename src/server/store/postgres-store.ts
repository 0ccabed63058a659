import { createPool, explainConnectError, migratePostgres, query, type PostgresPoolOptions } from './postgres.ts';
import { redactUrl } from '../../protocol/redact.ts';
import { sql } from './sql.ts';
import { PostgresMetaRepository } from './meta.postgres.ts';
import type { ServerStore } from './store.ts';
import { PostgresUsersRepository } from '../users/repository.postgres.ts';
import { PostgresDevicesRepository } from '../devices/repository.postgres.ts';
import { PostgresMessagesRepository } from '../messages/repository.postgres.ts';
import { PostgresWebhooksRepository } from '../webhooks/repository.postgres.ts';
import { PostgresSettingsRepository } from '../settings/repository.postgres.ts';
import { PostgresDeliveriesRepository } from '../deliveries/repository.postgres.ts';
import { PostgresPushHub } from '../push/hub.postgres.ts';
import { PostgresTokensRepository } from '../tokens/repository.postgres.ts';

const PING_SQL = sql('health.ping', 'SELECT 1');

export interface PostgresStoreOptions extends PostgresPoolOptions {
  /** passed to the push hub: how fast a lost LISTEN connection is retried */
  listenReconnect?: { minDelayMs?: number; maxDelayMs?: number };
}

/**
 * Many nodes on one PostgreSQL database: a pool per process, the schema migrated at open
 * (under an advisory lock), and a push hub on LISTEN/NOTIFY so pushes cross nodes.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<ServerStore> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pool = createPool(url, { ...options, log });
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof Error && /newer than this smsgate/.test(error.message)) throw error;
    throw explainConnectError(url, error);
  }
  let closed = false;
  return {
    kind: 'postgres',
    location: redactUrl(url),
    users: new PostgresUsersRepository(pool),
    devices: new PostgresDevicesRepository(pool),
    messages: new PostgresMessagesRepository(pool),
    webhooks: new PostgresWebhooksRepository(pool),
    settings: new PostgresSettingsRepository(pool),
    deliveries: new PostgresDeliveriesRepository(pool),
    meta: new PostgresMetaRepository(pool),
    tokens: new PostgresTokensRepository(pool),
    health: {
      async ping() {
        if (closed) throw new Error('the database is closed');
        await query(pool, PING_SQL, {});
      },
    },
    openPushHub: () => PostgresPushHub.start({ url, pool, log, reconnect: options.listenReconnect }),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
