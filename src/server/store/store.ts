import { resolve } from 'node:path';
import { redactUrlsIn } from '../../protocol/redact.ts';
import type { UsersRepository } from '../users/repository.ts';
import type { DevicesRepository } from '../devices/repository.ts';
import type { MessagesRepository } from '../messages/repository.ts';
import type { WebhooksRepository } from '../webhooks/repository.ts';
import type { SettingsRepository } from '../settings/repository.ts';
import type { HealthRepository } from '../health/repository.ts';
import type { DeliveriesRepository } from '../deliveries/repository.ts';
import type { MetaRepository } from './meta.ts';
import type { PushHub } from '../push/hub.ts';
import type { TokenStore } from '../../shared/access-tokens.ts';

/**
 * Everything the server keeps, behind async interfaces, implemented for SQLite (one process,
 * the embedded default) and PostgreSQL (many nodes): services and routes do not know which.
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
  /** the copy of the deliveries and attempts devices report */
  deliveries: DeliveriesRepository;
  health: HealthRepository;
  meta: MetaRepository;
  /** access and refresh tokens (their hashes) */
  tokens: TokenStore;
  /**
   * A push hub that reaches the devices of every server process sharing this store: within
   * the process for SQLite, over LISTEN/NOTIFY for PostgreSQL. The caller closes it.
   */
  openPushHub(): Promise<PushHub>;
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
  throw new Error(`--db must be sqlite:PATH or postgres://…, got "${redactUrlsIn(db)}"`);
}

/** `DATABASE_URL`, as hosting platforms set it: used when neither `--db` nor `SMSGATE_DB` is given. */
export const databaseUrlFromEnv = (env: NodeJS.ProcessEnv = process.env): string | undefined =>
  env.DATABASE_URL || undefined;
