import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import type { RegistrationCode, UserRecord, UsersRepository } from './repository.ts';
import { toUser, USERS_SQL } from './repository.shared.ts';

export class SqliteUsersRepository implements UsersRepository {
  private readonly statements;

  constructor(db: SqliteDb) {
    this.statements = prepareAll(db, USERS_SQL);
  }

  async insertUser(user: UserRecord): Promise<'inserted' | 'login-taken'> {
    return this.statements.insertUser.run(user).changes === 1 ? 'inserted' : 'login-taken';
  }

  async getUserByLogin(login: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUserByLogin.get({ login });
    return row && toUser(row);
  }

  async getUserById(id: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUserById.get({ id });
    return row && toUser(row);
  }

  async listUsers(): Promise<(UserRecord & { deviceCount: number })[]> {
    return this.statements.listUsers.all({}).map((row) => ({ ...toUser(row), deviceCount: row.device_count }));
  }

  async updatePasswordHash(login: string, passwordHash: string, now: number): Promise<boolean> {
    return this.statements.updatePasswordHash.run({ login, passwordHash, now }).changes === 1;
  }

  async insertRegistrationCode(code: RegistrationCode, now: number): Promise<'inserted' | 'taken'> {
    this.statements.dropExpiredCodes.run({ now });
    return this.statements.insertCode.run(code).changes === 1 ? 'inserted' : 'taken';
  }

  async takeRegistrationCode(code: string, now: number): Promise<string | undefined> {
    const row = this.statements.takeCode.get({ code, now });
    return row && row.valid ? row.user_id : undefined;
  }
}
