import type { PgPool } from '../store/postgres.ts';
import { type UserRecord, type UsersRepository, type UserRow, toUser } from './repository.ts';

export class PostgresUsersRepository implements UsersRepository {
  constructor(private readonly pool: PgPool) {}

  async insertUser(user: UserRecord): Promise<'inserted' | 'login-taken'> {
    // The UNIQUE (login) constraint decides: of two racing inserts, one waits for the other and then does nothing.
    const result = await this.pool.query(
      `INSERT INTO users (id, login, password_hash, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (login) DO NOTHING`,
      [user.id, user.login, user.passwordHash, user.createdAt, user.updatedAt],
    );
    return result.rowCount === 1 ? 'inserted' : 'login-taken';
  }

  async getUserByLogin(login: string): Promise<UserRecord | undefined> {
    const { rows } = await this.pool.query<UserRow>(`SELECT * FROM users WHERE login = $1`, [login]);
    return rows[0] && toUser(rows[0]);
  }

  async getUserById(id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.pool.query<UserRow>(`SELECT * FROM users WHERE id = $1`, [id]);
    return rows[0] && toUser(rows[0]);
  }

  async listUsers(): Promise<(UserRecord & { deviceCount: number })[]> {
    const { rows } = await this.pool.query<UserRow & { device_count: number }>(
      `SELECT users.*, (SELECT count(*) FROM devices WHERE devices.user_id = users.id) AS device_count
       FROM users ORDER BY created_at, login`,
    );
    return rows.map((row) => ({ ...toUser(row), deviceCount: row.device_count }));
  }

  async updatePasswordHash(login: string, passwordHash: string, now: number): Promise<boolean> {
    const result = await this.pool.query(`UPDATE users SET password_hash = $1, updated_at = $2 WHERE login = $3`, [
      passwordHash,
      now,
      login,
    ]);
    return result.rowCount === 1;
  }
}
