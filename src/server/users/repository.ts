/** A server user: the login and password of the 3rdparty API. */
export interface UserRecord {
  id: string;
  login: string;
  /** scrypt$salt$hash (src/shared/passwords.ts); never the password */
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

/** A one-time code that registers a phone for a user, until `validUntil` (Unix ms). */
export interface RegistrationCode {
  code: string;
  userId: string;
  validUntil: number;
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
  /** Keep a one-time registration code (expired ones are dropped); 'taken' when that code is in use. */
  insertRegistrationCode(code: RegistrationCode, now: number): Promise<'inserted' | 'taken'>;
  /** Use up a code: its user, when it exists and is still valid at `now`; it is gone either way. */
  takeRegistrationCode(code: string, now: number): Promise<string | undefined>;
}
