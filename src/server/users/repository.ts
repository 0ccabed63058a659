/** A server user: the login and password of the 3rdparty API. */
export interface UserRecord {
  id: string;
  login: string;
  /** scrypt$salt$hash (src/shared/passwords.ts); never the password */
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * Storage of users. Every method is one statement or one transaction, safe when several
 * server processes share the database.
 */
export interface UsersRepository {
  /** Insert, unless the login is taken (decided by the UNIQUE constraint, so two racing inserts cannot both win). */
  insertUser(user: UserRecord): Promise<'inserted' | 'login-taken'>;
  getUserByLogin(login: string): Promise<UserRecord | undefined>;
  getUserById(id: string): Promise<UserRecord | undefined>;
  /** Every user with how many devices it has, oldest first. */
  listUsers(): Promise<(UserRecord & { deviceCount: number })[]>;
  /** false when no user has that login */
  updatePasswordHash(login: string, passwordHash: string, now: number): Promise<boolean>;
}
