import { query, type PgPool } from '../store/postgres.ts';
import type { RegistrationCode, UserRecord, UsersRepository } from './repository.ts';
import { toUser, USERS_SQL } from './repository.shared.ts';

export class PostgresUsersRepository implements UsersRepository {
  constructor(private readonly pool: PgPool) {}

  async insertUser(user: UserRecord): Promise<'inserted' | 'login-taken'> {
    const result = await query(this.pool, USERS_SQL.insertUser, user);
    return result.rowCount === 1 ? 'inserted' : 'login-taken';
  }

  async getUserByLogin(login: string): Promise<UserRecord | undefined> {
    const { rows } = await query(this.pool, USERS_SQL.getUserByLogin, { login });
    return rows[0] && toUser(rows[0]);
  }

  async getUserById(id: string): Promise<UserRecord | undefined> {
    const { rows } = await query(this.pool, USERS_SQL.getUserById, { id });
    return rows[0] && toUser(rows[0]);
  }

  async listUsers(): Promise<(UserRecord & { deviceCount: number })[]> {
    const { rows } = await query(this.pool, USERS_SQL.listUsers, {});
    return rows.map((row) => ({ ...toUser(row), deviceCount: row.device_count }));
  }

  async updatePasswordHash(login: string, passwordHash: string, now: number): Promise<boolean> {
    const result = await query(this.pool, USERS_SQL.updatePasswordHash, { login, passwordHash, now });
    return result.rowCount === 1;
  }

  async insertRegistrationCode(code: RegistrationCode, now: number): Promise<'inserted' | 'taken'> {
    await query(this.pool, USERS_SQL.dropExpiredCodes, { now });
    const result = await query(this.pool, USERS_SQL.insertCode, code);
    return result.rowCount === 1 ? 'inserted' : 'taken';
  }

  async takeRegistrationCode(code: string, now: number): Promise<string | undefined> {
    const { rows } = await query(this.pool, USERS_SQL.takeCode, { code, now });
    return rows[0]?.valid ? rows[0].user_id : undefined;
  }
}
