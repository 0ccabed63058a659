import type { Settings } from '../../protocol/index.ts';
import { sql } from '../store/sql.ts';

/** The settings statements both stores write alike. */
export const SETTINGS_SQL = {
  // Every user with what they set (NULL when nothing), by id: the retention purge's keyset pages.
  usersPage: sql<{ after: string; limit: number }, { user_id: string; document: string | null }>(
    'user-settings.users-page',
    `SELECT u.id AS user_id, s.document FROM users u LEFT JOIN user_settings s ON s.user_id = u.id
      WHERE u.id > :after ORDER BY u.id LIMIT :limit`,
  ),
};

/** A stored document as read; a user with no row set nothing. */
export const parseDocument = (document: string | null): Settings =>
  document === null ? {} : (JSON.parse(document) as Settings);
