import { openSqlite } from './sqlite.ts';
import { startBackgroundCheckpoints } from '../../shared/sqlite.ts';
import { GroupCommit } from './group-commit.ts';
import { SqliteMetaRepository } from './meta.ts';
import type { ServerStore } from './store.ts';
import { InProcessPushHub } from '../push/hub.ts';
import { SqliteUsersRepository } from '../users/repository.sqlite.ts';
import { SqliteDevicesRepository } from '../devices/repository.sqlite.ts';
import { SqliteMessagesRepository } from '../messages/repository.sqlite.ts';
import { SqliteWebhooksRepository } from '../webhooks/repository.sqlite.ts';
import { SqliteSettingsRepository } from '../settings/repository.sqlite.ts';
import { SqliteDeliveriesRepository } from '../deliveries/repository.sqlite.ts';
import { SqliteTokensRepository } from '../tokens/repository.sqlite.ts';

/** The embedded default: one SQLite file (or :memory:). */
export function openSqliteStore(file: string): ServerStore {
  const db = openSqlite(file);
  const ping = db.prepare('SELECT 1');
  const writes = new GroupCommit(db);
  // Off the event loop: left to SQLite, a checkpoint (and its fsync) runs inside whichever commit
  // crosses 1,000 WAL pages, every few hundred messages, and every request waits for it.
  const checkpoints = file === ':memory:' ? undefined : startBackgroundCheckpoints(db);
  let closed = false;
  return {
    kind: 'sqlite',
    location: file,
    users: new SqliteUsersRepository(db),
    devices: new SqliteDevicesRepository(db),
    messages: new SqliteMessagesRepository(db),
    webhooks: new SqliteWebhooksRepository(db, writes),
    settings: new SqliteSettingsRepository(db),
    deliveries: new SqliteDeliveriesRepository(db),
    meta: new SqliteMetaRepository(db),
    tokens: new SqliteTokensRepository(db),
    health: {
      async ping() {
        if (closed) throw new Error('the database is closed');
        ping.get();
      },
    },
    // One SQLite file serves one server process, so pushes stay within it.
    openPushHub: async () => new InProcessPushHub(),
    async close() {
      if (closed) return;
      closed = true;
      await checkpoints?.stop();
      db.close();
    },
  };
}
