import type { FastifyRequest } from 'fastify';
import type { MetaStore } from '../store/meta.ts';
import type { Clock } from '../../shared/clock.ts';
import { hashPassword, verifyPassword, VerifiedCredentialsCache } from '../../shared/passwords.ts';
import { parseBasicAuth, safeEqual, unauthorized } from '../../shared/http.ts';
import { randomSecret } from '../../shared/ids.ts';
import { LoginThrottle, type LoginThrottleOptions } from '../../shared/login-throttle.ts';
import { AccessTokens, newTokenSecret, noteTokenExpiry, type TokenStore } from '../../shared/access-tokens.ts';
import { presentedToken } from '../../shared/token-routes.ts';
import { checkScopes } from '../../shared/scopes.ts';
import { UnauthorizedError } from '../../shared/errors.ts';

/**
 * The Local API's Basic auth: one user (default `sms`) whose password is random, generated at
 * first start and stored only as a scrypt hash. `password` is known here only when it was
 * generated or given in this run, so it can be printed once. Access tokens (`POST /auth/token`)
 * work beside it, each within its scopes.
 */
export class LocalCredentials {
  private readonly cache = new VerifiedCredentialsCache();
  private readonly throttle: LoginThrottle;

  private constructor(
    readonly username: string,
    readonly password: string | undefined,
    private readonly passwordHash: string,
    private readonly clock: Clock,
    throttle: LoginThrottleOptions | undefined,
    /** the Local API's access tokens, signed with a key made at first start and kept in device.db */
    readonly tokens: AccessTokens,
  ) {
    this.throttle = new LoginThrottle(clock, throttle);
  }

  static async load(
    meta: MetaStore,
    tokenStore: TokenStore,
    clock: Clock,
    options: { username: string; password?: string; throttle?: LoginThrottleOptions },
  ): Promise<LocalCredentials> {
    let password = options.password;
    let hash = meta.get('local_password_hash');
    if (password !== undefined) {
      if (!hash || !(await verifyPassword(password, hash))) {
        hash = await hashPassword(password);
        meta.set('local_password_hash', hash);
      }
    } else if (!hash) {
      password = randomSecret(9);
      hash = await hashPassword(password);
      meta.set('local_password_hash', hash);
    }
    const tokens = new AccessTokens(tokenStore, meta.getOrCreate('jwt_secret', newTokenSecret), clock);
    return new LocalCredentials(options.username, password, hash, clock, options.throttle, tokens);
  }

  /**
   * A Fastify onRequest hook: 401 unless the request carries the right Basic credentials, or an
   * access token that is valid (and then 403 unless it holds the route's scope). A wrong token
   * counts against the address apart from wrong passwords. `scoped: false`: any valid token (a
   * request for no route, which then gets its 404).
   */
  async check(request: FastifyRequest, options: { scoped: boolean } = { scoped: true }): Promise<void> {
    const token = presentedToken(request);
    if (token !== undefined) {
      const holder = await this.tokens.authenticate(token);
      if (!holder) {
        this.throttle.failedToken(request.ip);
        throw new UnauthorizedError('the access token is expired, revoked or not this device’s; ask POST /auth/token');
      }
      if (options.scoped) checkScopes(request, holder.scopes);
      noteTokenExpiry(request, holder.expiresAt);
      return;
    }
    const given = parseBasicAuth(request);
    if (!given) throw unauthorized();
    const now = this.clock.now();
    // The throttle comes first: a throttled address may not keep guessing against the cache of
    // recent logins either.
    this.throttle.check(request.ip, given.username);
    const subject = await this.cache.verifyOnce(given.username, given.password, now, async () => {
      const userOk = safeEqual(given.username, this.username);
      const passwordOk = await verifyPassword(given.password, this.passwordHash);
      return userOk && passwordOk ? this.username : undefined;
    });
    // A success does not clear the address's failures: one known password must not buy
    // unlimited guesses at another.
    if (subject === undefined) {
      this.throttle.failed(request.ip, given.username);
      throw unauthorized();
    }
    this.throttle.succeeded(request.ip, given.username);
  }
}
