import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseBasicAuth, unauthorized, type App } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import type { AuthenticatedUser } from '../users/service.ts';
import type { DeviceRecord } from '../devices/repository.ts';
import { UnauthorizedError } from '../../shared/errors.ts';
import { noteTokenExpiry, type TokenHolder } from '../../shared/access-tokens.ts';
import { checkScopes } from '../../shared/scopes.ts';
import { presentedToken } from '../../shared/token-routes.ts';

/** Whom a 3rdparty request acts for. */
export interface RequestUser {
  id: string;
}

// Who made a request, in slots of its own: symbols, so no Fastify types are augmented.
// declareRequestSlots gives every request object of the app these slots from its construction.
const USER = Symbol('user');
const DEVICE = Symbol('device');
const TOKEN = Symbol('token');
interface RequestSlots {
  [USER]?: RequestUser | null;
  [DEVICE]?: DeviceRecord | null;
  [TOKEN]?: TokenHolder | null;
}
const slotsOf = (request: FastifyRequest) => request as unknown as RequestSlots;

/**
 * Declares the slots on the app (null until a hook fills them): properties set only after a
 * request object exists would change its shape on every request (a WeakMap beside it cost more
 * than the slot, in memory and in the garbage collector's work).
 */
export function declareRequestSlots(app: App): void {
  for (const slot of [USER, DEVICE, TOKEN]) app.decorateRequest(slot, null);
}

/** The user a 3rdparty request was authenticated as (set by requireUser). */
export function userOf(request: FastifyRequest): RequestUser {
  const user = slotsOf(request)[USER];
  if (!user) throw new Error('userOf() on a route without the requireUser hook');
  return user;
}

/** The access token a 3rdparty request was authenticated with; undefined for Basic auth. */
export function tokenOf(request: FastifyRequest): TokenHolder | undefined {
  return slotsOf(request)[TOKEN] ?? undefined;
}

/**
 * An access token (Bearer, or Basic with an empty login): valid, and holding the route's scope.
 * A wrong one counts against the address like a wrong device token, apart from failed passwords.
 */
async function authenticateToken(ctx: ServerContext, request: FastifyRequest, token: string): Promise<void> {
  const holder = await ctx.tokens.authenticate(token);
  if (!holder) {
    ctx.loginThrottle.failedToken(request.ip);
    throw new UnauthorizedError(
      'the access token is expired, revoked or not one of this server’s; ask POST /3rdparty/v1/auth/token for a new one',
    );
  }
  checkScopes(request, holder.scopes);
  const slots = slotsOf(request);
  slots[USER] = { id: holder.subject };
  slots[TOKEN] = holder;
  noteTokenExpiry(request, holder.expiresAt);
}

/** The device a mobile request was authenticated as (set by requireDevice). */
export function deviceOf(request: FastifyRequest): DeviceRecord {
  const device = slotsOf(request)[DEVICE];
  if (!device) throw new Error('deviceOf() on a route without the requireDevice hook');
  return device;
}

/** `Authorization: Bearer <token>`, or undefined. */
export function parseBearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header && /^bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/** `Authorization: Code <code>` (a one-time registration code, as the original's app sends it), or undefined. */
export function parseRegistrationCode(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header && /^code\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/**
 * The device of a bearer token on a route that also answers without one (`GET /mobile/v1/device`,
 * which the app calls before it has registered): undefined for no token or an unknown one (which
 * counts as a wrong token for the throttle).
 */
export async function optionalDevice(ctx: ServerContext, request: FastifyRequest): Promise<DeviceRecord | undefined> {
  const token = parseBearer(request);
  if (token === undefined) return undefined;
  const device = await ctx.devices.authenticate(token);
  if (!device) ctx.loginThrottle.failedToken(request.ip);
  return device;
}

/**
 * The user of `Authorization: Basic`, or undefined when the header is absent; 401 when it is wrong.
 *
 * Failed logins are throttled per login and address (`LoginThrottle`); past the limit that login
 * gets 429 with Retry-After from that address, checked before anything else, the cache of recently
 * verified logins included (otherwise that cache would answer unlimited guesses at an account in
 * use). A success does not clear the failures: on a server with many users, one valid login must
 * not buy more guesses at another user's password. Failures leave the window on their own.
 */
export async function optionalUser(
  ctx: ServerContext,
  request: FastifyRequest,
): Promise<AuthenticatedUser | undefined> {
  const given = parseBasicAuth(request);
  if (!given) {
    if (/^basic\s/i.test(request.headers.authorization ?? '')) throw unauthorized();
    return undefined;
  }
  ctx.loginThrottle.check(request.ip, given.username);
  return verifyLogin(ctx, request, given);
}

/** Check a login and password against the store (scrypt); a wrong one counts against the login and address. */
async function verifyLogin(
  ctx: ServerContext,
  request: FastifyRequest,
  given: { username: string; password: string },
): Promise<AuthenticatedUser> {
  const user = await ctx.users.authenticate(given.username, given.password);
  if (!user) {
    ctx.loginThrottle.failed(request.ip, given.username);
    throw unauthorized();
  }
  ctx.loginThrottle.succeeded(request.ip, given.username);
  return user;
}

/**
 * onRequest hook of the 3rdparty API: Basic auth with a user's login and password (every route),
 * or an access token holding the route's scope (`config.scope`). Callback-style,
 * so that a client whose login verified recently (most requests) costs no promise: only the
 * first request of a login waits for the store and scrypt.
 */
export function requireUser(ctx: ServerContext) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    const authorization = request.headers.authorization;
    if (!authorization) return done(unauthorized());
    const connection = request.raw.socket;
    try {
      // First what this connection already proved (only a Basic login with a name is remembered,
      // so never a token). Still throttled by its login: behind a load balancer one connection
      // carries many clients' requests.
      let known = ctx.users.knownOnConnection(connection, authorization);
      if (known) {
        ctx.loginThrottle.check(request.ip, known.login);
      } else {
        const token = presentedToken(request);
        if (token !== undefined) {
          authenticateToken(ctx, request, token).then(() => done(), done);
          return;
        }
        const given = parseBasicAuth(request);
        if (!given) return done(unauthorized());
        ctx.loginThrottle.check(request.ip, given.username);
        known = ctx.users.recentlyAuthenticatedOn(connection, authorization, given.username, given.password);
        if (!known) {
          verifyLogin(ctx, request, given).then(
            (user) => {
              slotsOf(request)[USER] = user;
              done();
            },
            (error: Error) => done(error),
          );
          return;
        }
      }
      slotsOf(request)[USER] = known;
      done();
    } catch (error) {
      done(error as Error);
    }
  };
}

/**
 * onRequest hook of the mobile API: the device's bearer token. A valid token is never throttled
 * (it cannot be guessed); wrong ones are counted per address, apart from failed passwords.
 */
export function requireDevice(ctx: ServerContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = parseBearer(request);
    const device = token === undefined ? undefined : await ctx.devices.authenticate(token);
    if (!device) {
      if (token !== undefined) ctx.loginThrottle.failedToken(request.ip);
      throw new UnauthorizedError(
        'missing or unknown device token: send Authorization: Bearer <token>, the token POST /mobile/v1/device returned',
      );
    }
    slotsOf(request)[DEVICE] = device;
  };
}
