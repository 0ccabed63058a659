import type { SqliteDb } from '../store/sqlite.ts';
import { type UserRecord, type UsersRepository, type UserRow, toUser } from './repository.ts';

export class SqliteUsersRepository implements UsersRepository {
  private readonly statements;

  constructor(db: SqliteDb) {
    this.statements = {
      insertUser: db.prepare<[string, string, string, number, number]>(
        `INSERT INTO users (id, login, password_hash, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (login) DO NOTHING`,
      ),
      getUserByLogin: db.prepare<[string], UserRow>(`SELECT * FROM users WHERE login = ?`),
      getUserById: db.prepare<[string], UserRow>(`SELECT * FROM users WHERE id = ?`),
      listUsers: db.prepare<[], UserRow & { device_count: number }>(
        `SELECT users.*, (SELECT count(*) FROM devices WHERE devices.user_id = users.id) AS device_count
         FROM users ORDER BY created_at, login`,
      ),
      updatePasswordHash: db.prepare<[string, number, string]>(
        `UPDATE users SET password_hash = ?, updated_at = ? WHERE login = ?`,
      ),
    };
  }

  async insertUser(user: UserRecord): Promise<'inserted' | 'login-taken'> {
    const result = this.statements.insertUser.run(
      user.id,
      user.login,
      user.passwordHash,
      user.createdAt,
      user.updatedAt,
    );
    return result.changes === 1 ? 'inserted' : 'login-taken';
  }

  async getUserByLogin(login: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUserByLogin.get(login);
    return row && toUser(row);
  }

  async getUserById(id: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUserById.get(id);
    return row && toUser(row);
  }

  async listUsers(): Promise<(UserRecord & { deviceCount: number })[]> {
    return this.statements.listUsers.all().map((row) => ({ ...toUser(row), deviceCount: row.device_count }));
  }

  async updatePasswordHash(login: string, passwordHash: string, now: number): Promise<boolean> {
    return this.statements.updatePasswordHash.run(passwordHash, now, login).changes === 1;
  }
}
