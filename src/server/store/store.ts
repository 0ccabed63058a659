import { resolve } from 'node:path';
import type { UsersRepository } from '../users/repository.ts';
import type { DevicesRepository } from '../devices/repository.ts';
import type { MessagesRepository } from '../messages/repository.ts';
import type { WebhooksRepository } from '../webhooks/repository.ts';
import type { SettingsRepository } from '../settings/repository.ts';
import type { HealthRepository } from '../health/repository.ts';
import type { MetaRepository } from './meta.ts';

/**
 * Everything the server keeps, behind async interfaces: SQLite implements them today, and a
 * PostgreSQL implementation can be added beside it without touching services or routes.
 */
export interface ServerStore {
  readonly kind: 'sqlite' | 'postgres';
  /** where the data is, for logs and the ready line (never contains a password) */
  readonly location: string;
  users: UsersRepository;
  devices: DevicesRepository;
  messages: MessagesRepository;
  webhooks: WebhooksRepository;
  settings: SettingsRepository;
  health: HealthRepository;
  meta: MetaRepository;
  close(): Promise<void>;
}

export type StoreSpec = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/**
 * `--db` syntax: `sqlite:PATH` (relative to the working directory), `sqlite::memory:`, or a
 * `postgres://` URL. Without it, `<dataDir>/server.db`.
 */
export function parseStoreSpec(db: string | undefined, dataDir = './data'): StoreSpec {
  if (db === undefined || db === '') return { kind: 'sqlite', file: resolve(dataDir, 'server.db') };
  if (db.startsWith('sqlite:')) {
    const file = db.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!file) throw new Error('--db sqlite: needs a file, e.g. sqlite:./data/server.db');
    return { kind: 'sqlite', file: file === ':memory:' ? file : resolve(file) };
  }
  if (/^postgres(ql)?:\/\//.test(db)) return { kind: 'postgres', url: db };
  throw new Error(`--db must be sqlite:PATH or postgres://…, got "${db}"`);
}

export async function openStore(spec: StoreSpec): Promise<ServerStore> {
  if (spec.kind === 'postgres') {
    throw new Error('this build stores data in SQLite only; use --db sqlite:./data/server.db (PostgreSQL support is planned)');
  }
  const { openSqliteStore } = await import('./sqlite-store.ts');
  return openSqliteStore(spec.file);
}
