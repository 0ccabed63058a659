import { randomInt } from 'node:crypto';
import type { Clock } from '../../shared/clock.ts';
import { newId } from '../../shared/ids.ts';
import { hashPassword, sameLengthSafeEqual, verifyPassword, VerifiedCredentialsCache } from '../../shared/passwords.ts';
import type { UserRecord, UsersRepository } from './repository.ts';
import {
  InvalidInputError,
  UnauthorizedError,
  NotFoundError,
  ConflictError,
  UnavailableError,
} from '../../shared/errors.ts';

export const MIN_PASSWORD_LENGTH = 8;
/** What the original's app is held to when it changes its user's password (`PATCH /mobile/v1/user/password`). */
export const MOBILE_MIN_PASSWORD_LENGTH = 14;
/** How long a registration code from `GET /mobile/v1/user/code` is good for (the original's: 5 minutes). */
export const REGISTRATION_CODE_TTL_MS = 5 * 60_000;
const LOGIN_PATTERN = /^[A-Za-z0-9._@+-]{1,64}$/;

export interface AuthenticatedUser {
  id: string;
  login: string;
}

/** Users: creation (by an admin or at a device's first registration) and Basic-auth checks. */
export class UsersService {
  /** successful checks are remembered briefly so a busy client pays for scrypt once, not per request */
  private readonly verified: VerifiedCredentialsCache;

  /**
   * `passwordChanged` is told after a user's password changed, to make every node forget the
   * old one and end the user's live streams.
   */
  constructor(
    private readonly repo: UsersRepository,
    private readonly clock: Clock,
    authCacheMs = 30_000,
    private readonly passwordChanged: (userId: string) => Promise<void> = async () => {},
  ) {
    this.verified = new VerifiedCredentialsCache(authCacheMs);
  }

  /** The Authorization header each keep-alive connection last proved, and as whom. */
  private readonly provenOnConnection = new WeakMap<
    object,
    { authorization: string; user: AuthenticatedUser; until: number; epoch: number }
  >();
  /** bumped by every password change: what connections proved before no longer counts */
  private epoch = 0;

  /**
   * The user this connection already proved with exactly this Authorization header, within the
   * cache time and with no password change since: a client on a keep-alive connection sends the
   * same header every time, and this skips decoding and hashing it. The comparison is timing-safe
   * (a proxy may carry several clients' requests on one connection).
   */
  knownOnConnection(connection: object, authorization: string): AuthenticatedUser | undefined {
    const proven = this.provenOnConnection.get(connection);
    if (!proven || proven.epoch !== this.epoch || proven.until <= this.clock.now()) return undefined;
    return sameLengthSafeEqual(authorization, proven.authorization) ? proven.user : undefined;
  }

  /**
   * The user if these credentials verified recently (no store, no scrypt), else undefined: then
   * call authenticate. The connection remembers the header for as long as the verification counts.
   */
  recentlyAuthenticatedOn(
    connection: object,
    authorization: string,
    login: string,
    password: string,
  ): AuthenticatedUser | undefined {
    const recent = this.verified.lookup(login, password, this.clock.now());
    if (!recent) return undefined;
    const user = { id: recent.subject, login };
    this.provenOnConnection.set(connection, {
      authorization,
      user,
      until: recent.expiresAt,
      epoch: this.epoch,
    });
    return user;
  }

  /** The user these credentials belong to, or undefined. */
  async authenticate(login: string, password: string): Promise<AuthenticatedUser | undefined> {
    const id = await this.verified.verifyOnce(login, password, this.clock.now(), async () => {
      const user = await this.repo.getUserByLogin(login);
      // Unknown logins still pay for one scrypt, so timing does not tell which logins exist.
      const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
      return user && ok ? user.id : undefined;
    });
    return id === undefined ? undefined : { id, login };
  }

  /** Every login is checked against the store again on its next request (as after a password change). */
  forgetVerifiedLogins(): void {
    this.verified.clear();
    this.epoch++;
  }

  async create(login: string, password: string): Promise<UserRecord> {
    if (!LOGIN_PATTERN.test(login)) {
      throw new InvalidInputError('login must be 1–64 characters of letters, digits and . _ @ + -');
    }
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new InvalidInputError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const now = this.clock.now();
    const user: UserRecord = {
      id: newId(),
      login,
      passwordHash: await hashPassword(password),
      createdAt: now,
      updatedAt: now,
    };
    if ((await this.repo.insertUser(user)) === 'login-taken') {
      throw new ConflictError(`the login "${login}" is taken; choose another one`);
    }
    return user;
  }

  /**
   * A user with generated credentials, as the original creates at a device's first
   * registration: a 6-character upper-case login and a 14-character lower-case password.
   */
  async createGenerated(): Promise<{ user: UserRecord; password: string }> {
    const password = randomString('abcdefghijklmnopqrstuvwxyz0123456789', 14);
    const passwordHash = await hashPassword(password);
    for (let attempt = 0; attempt < 10; attempt++) {
      const now = this.clock.now();
      const user: UserRecord = {
        id: newId(),
        login: randomString('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 6),
        passwordHash,
        createdAt: now,
        updatedAt: now,
      };
      // A taken login (or a racing registration) just means: draw another one.
      if ((await this.repo.insertUser(user)) === 'inserted') return { user, password };
    }
    throw new Error('could not find a free login after 10 attempts');
  }

  async changePassword(login: string, password: string): Promise<void> {
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new InvalidInputError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const user = await this.repo.getUserByLogin(login);
    const changed = user && (await this.repo.updatePasswordHash(login, await hashPassword(password), this.clock.now()));
    if (!changed) throw new NotFoundError(`no user with login "${login}"`);
    this.forgetVerifiedLogins();
    await this.passwordChanged(user.id);
  }

  /** Change a user's own password, proving the current one. */
  async changeOwnPassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.repo.getUserById(userId);
    if (!user || !(await verifyPassword(currentPassword, user.passwordHash))) {
      throw new UnauthorizedError('the current password is wrong');
    }
    await this.changePassword(user.login, newPassword);
  }

  list() {
    return this.repo.listUsers();
  }

  /**
   * A one-time code that registers a phone for this user (`Authorization: Code <code>` on
   * `POST /mobile/v1/device`): six digits, as the original's, valid for REGISTRATION_CODE_TTL_MS.
   */
  async newRegistrationCode(userId: string): Promise<{ code: string; validUntil: number }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const now = this.clock.now();
      const entry = {
        code: String(randomInt(1_000_000)).padStart(6, '0'),
        userId,
        validUntil: now + REGISTRATION_CODE_TTL_MS,
      };
      if ((await this.repo.insertRegistrationCode(entry, now)) === 'inserted') {
        return { code: entry.code, validUntil: entry.validUntil };
      }
    }
    throw new UnavailableError('too many registration codes are in use; try again in a few minutes', 60);
  }

  /** The user a registration code is for, using it up; undefined when unknown or expired. */
  async useRegistrationCode(code: string): Promise<UserRecord | undefined> {
    const userId = await this.repo.takeRegistrationCode(code, this.clock.now());
    return userId === undefined ? undefined : this.repo.getUserById(userId);
  }

  /** The user with this id (one a device or token names: it exists). */
  async get(userId: string): Promise<UserRecord> {
    const user = await this.repo.getUserById(userId);
    if (!user) throw new NotFoundError(`no user with id "${userId}"`);
    return user;
  }
}

// A real scrypt hash of a random password nobody knows, for the constant-time path above;
// made on first use so that commands which never authenticate do not pay for it.
let dummy: Promise<string> | undefined;
const dummyHash = (): Promise<string> => (dummy ??= hashPassword(newId()));

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
