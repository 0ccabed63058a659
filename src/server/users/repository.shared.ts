import { sql } from '../store/sql.ts';
import type { RegistrationCode, UserRecord } from './repository.ts';

/** A row of the table as both stores return it. */
export interface UserRow {
  id: string;
  login: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

export const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  login: row.login,
  passwordHash: row.password_hash,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const USER_COLUMNS = 'id, login, password_hash, created_at, updated_at';

/** Every statement of the users repository: the same SQL on both stores. */
export const USERS_SQL = {
  // The UNIQUE (login) constraint decides: of two racing inserts, one waits for the other and then does nothing.
  insertUser: sql<UserRecord>(
    'users.insert',
    `INSERT INTO users (id, login, password_hash, created_at, updated_at)
     VALUES (:id, :login, :passwordHash, :createdAt, :updatedAt)
     ON CONFLICT (login) DO NOTHING`,
  ),
  getUserByLogin: sql<{ login: string }, UserRow>(
    'users.by-login',
    `SELECT ${USER_COLUMNS} FROM users WHERE login = :login`,
  ),
  getUserById: sql<{ id: string }, UserRow>('users.by-id', `SELECT ${USER_COLUMNS} FROM users WHERE id = :id`),
  listUsers: sql<object, UserRow & { device_count: number }>(
    'users.list',
    `SELECT ${USER_COLUMNS}, (SELECT count(*) FROM devices WHERE devices.user_id = users.id) AS device_count
     FROM users ORDER BY created_at, login`,
  ),
  updatePasswordHash: sql<{ login: string; passwordHash: string; now: number }>(
    'users.update-password-hash',
    `UPDATE users SET password_hash = :passwordHash, updated_at = :now WHERE login = :login`,
  ),
  dropExpiredCodes: sql<{ now: number }>(
    'registration-codes.drop-expired',
    `DELETE FROM registration_codes WHERE valid_until <= :now`,
  ),
  // a code in use stays its user's: the primary key decides between two users drawing the same one
  insertCode: sql<RegistrationCode>(
    'registration-codes.insert',
    `INSERT INTO registration_codes (code, user_id, valid_until) VALUES (:code, :userId, :validUntil)
     ON CONFLICT (code) DO NOTHING`,
  ),
  // one use: the code is deleted by the statement that reads it, so two registrations cannot both have it
  takeCode: sql<{ code: string; now: number }, { user_id: string; valid: boolean | number }>(
    'registration-codes.take',
    `DELETE FROM registration_codes WHERE code = :code RETURNING user_id, valid_until > :now AS valid`,
  ),
};
