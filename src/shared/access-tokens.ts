import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { Clock } from './clock.ts';
import { newId } from './ids.ts';
import { InvalidInputError, UnauthorizedError } from './errors.ts';
import { GRANTABLE_SCOPES, REFRESH_SCOPE } from './scopes.ts';

/** The issuer SMS Gateway for Android's server writes into its tokens, and checks. */
export const TOKEN_ISSUER = 'sms-gate.app';
/** What `ttl` 0 or absent means, and the most an access token is given (a larger ttl is cut to it, as upstream does). */
export const ACCESS_TTL_SECONDS = { default: 3600, max: 24 * 3600 } as const;
/** How long a refresh token can be used; each refresh gives a new one. */
export const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

export type TokenKind = 'access' | 'refresh';

/** One issued token as stored: never the token itself, only its SHA-256. */
export interface TokenRecord {
  id: string;
  subject: string;
  /** every token issued from one `POST /auth/token` by refreshing shares it; revoking one revokes them all */
  familyId: string;
  kind: TokenKind;
  /** an access token's scopes; a refresh token's: those of the access tokens it renews */
  scopes: string[];
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
}

/** A stored token that still counts (not expired, its family not revoked). */
export interface LiveToken {
  subject: string;
  familyId: string;
  kind: TokenKind;
  scopes: string[];
  tokenHash: string;
}

/**
 * One grant (a `POST /auth/token` and the pairs refreshed from it), as listed: its newest access
 * token's id (what DELETE /auth/token/{jti} takes) and times. Never a token or its hash.
 */
export interface TokenGrant {
  id: string;
  scopes: string[];
  issuedAt: number;
  /** when its newest access token expires */
  expiresAt: number;
  /** until when its unspent refresh token can buy a new pair; null when none is left */
  renewableUntil: number | null;
  revokedAt: number | null;
}

/** How many grants `GET /auth/token` lists, newest first. */
export const TOKEN_GRANTS_LISTED = 100;

/** Where tokens are kept: the server's store (SQLite or PostgreSQL) or the device's file. */
export interface TokenStore {
  /** Insert these, and drop the subject's tokens long expired. */
  insert(tokens: TokenRecord[], now: number): Promise<void>;
  /** The token unless it expired or any token of its family was revoked. */
  findLive(id: string, now: number): Promise<LiveToken | undefined>;
  /** Mark a refresh token used; false when it already was (the guard is in the statement). */
  spend(id: string, now: number): Promise<boolean>;
  /** Revoke the family of the subject's token `id`; its family id, or undefined when the subject has no such token. */
  revokeFamily(subject: string, id: string, now: number): Promise<string | undefined>;
  /** The subject's grants still stored, newest first, at most `limit`. */
  listGrants(subject: string, limit: number): Promise<TokenGrant[]>;
}

/** A grant's state at `now`, as the list shows it. */
export type GrantState = 'active' | 'renewable' | 'expired' | 'revoked';
export function grantState(grant: TokenGrant, now: number): GrantState {
  if (grant.revokedAt !== null) return 'revoked';
  if (grant.expiresAt > now) return 'active';
  return grant.renewableUntil !== null && grant.renewableUntil > now ? 'renewable' : 'expired';
}

/** What `POST /auth/token` and `POST /auth/token/refresh` answer (field names as upstream's). */
export interface IssuedTokens {
  id: string;
  token_type: 'Bearer';
  access_token: string;
  refresh_token: string;
  /** when the access token expires (ISO 8601) */
  expires_at: string;
}

/** Who a valid access (or refresh) token speaks for, and what it may do. */
export interface TokenHolder {
  subject: string;
  /** what it grants (a refresh token: `tokens:refresh` only) */
  scopes: string[];
  /** a refresh token: the scopes of the access tokens it renews */
  renews: string[];
  id: string;
  familyId: string;
  kind: TokenKind;
  /** when the token expires (ms since the epoch) */
  expiresAt: number;
}

/** The expiry of the token each request was authenticated with (none: Basic auth, a device token). */
const requestTokenExpiry = new WeakMap<object, number>();

/** Note that `request` was authenticated with a token that expires at `expiresAt`: what it opens ends then. */
export function noteTokenExpiry(request: object, expiresAt: number): void {
  requestTokenExpiry.set(request, expiresAt);
}

/** When the token the request was authenticated with expires; undefined for credentials that do not. */
export function tokenExpiryOf(request: object): number | undefined {
  return requestTokenExpiry.get(request);
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new signing secret (256 bits, base64url), made once and kept in the database. */
export const newTokenSecret = (): string => randomBytes(32).toString('base64url');

/**
 * JWT access tokens (HS256, by jose) with scopes, and refresh tokens with replay detection.
 * Every request checks the store as well as the signature, so a revoked token stops working at
 * once, on every node that shares the store.
 */
export class AccessTokens {
  private readonly key: Uint8Array;

  /**
   * `revoked` is told of every family revoked (by DELETE or by a replayed refresh token), to end
   * what its tokens opened (event streams), on every node.
   */
  constructor(
    private readonly store: TokenStore,
    secret: string,
    private readonly clock: Clock,
    private readonly revoked: (subject: string, familyId: string) => Promise<void> = async () => {},
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** A new access token and its refresh token. `ttlSeconds` 0 or absent: the default. */
  async issue(subject: string, scopes: readonly string[], ttlSeconds?: number): Promise<IssuedTokens> {
    const wanted = [...new Set(scopes)];
    if (wanted.length === 0) throw new InvalidInputError('scopes: name at least one scope');
    const unknown = wanted.filter((scope) => !GRANTABLE_SCOPES.includes(scope));
    if (unknown.length > 0) {
      throw new InvalidInputError(
        `scopes: unknown ${unknown.map((s) => `"${s}"`).join(', ')}; known: ${GRANTABLE_SCOPES.join(', ')}`,
      );
    }
    if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 0)) {
      throw new InvalidInputError('ttl: a whole number of seconds, 0 or more (0: the default)');
    }
    const ttl = Math.min(ttlSeconds || ACCESS_TTL_SECONDS.default, ACCESS_TTL_SECONDS.max);
    return this.issueFamily(subject, newId(), wanted, ttl);
  }

  /**
   * A new pair for a refresh token, which is spent by it. A refresh token presented a second
   * time (stolen, or replayed) revokes its whole family: the pair it already bought as well.
   */
  async refresh(refreshToken: string): Promise<IssuedTokens> {
    const holder = await this.authenticate(refreshToken);
    if (!holder || holder.kind !== 'refresh') {
      throw new UnauthorizedError(
        'the refresh token is unknown, expired or revoked; ask POST /auth/token for a new one',
      );
    }
    const now = this.clock.now();
    if (!(await this.store.spend(holder.id, now))) {
      await this.revoke(holder.subject, holder.id);
      throw new UnauthorizedError(
        'this refresh token was used already, so every token issued with it is now revoked; ask POST /auth/token for a new one',
      );
    }
    const ttl = ACCESS_TTL_SECONDS.default;
    return this.issueFamily(holder.subject, holder.familyId, holder.renews, ttl);
  }

  /** Revoke the subject's token `id` and every token of its family; the family id, or undefined when there is none. */
  async revoke(subject: string, id: string): Promise<string | undefined> {
    const familyId = await this.store.revokeFamily(subject, id, this.clock.now());
    if (familyId !== undefined) await this.revoked(subject, familyId);
    return familyId;
  }

  /** The subject's grants, newest first, each with its state now. */
  async list(subject: string): Promise<(TokenGrant & { state: GrantState })[]> {
    const now = this.clock.now();
    const grants = await this.store.listGrants(subject, TOKEN_GRANTS_LISTED);
    return grants.map((grant) => ({ ...grant, state: grantState(grant, now) }));
  }

  /** Who the token speaks for, or undefined when it is not one of ours, expired or revoked. */
  async authenticate(token: string): Promise<TokenHolder | undefined> {
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, this.key, {
        issuer: TOKEN_ISSUER,
        algorithms: ['HS256'],
        requiredClaims: ['jti', 'sub', 'exp'],
        currentDate: new Date(this.clock.now()),
      }));
    } catch {
      return undefined;
    }
    const stored = await this.store.findLive(claims.jti!, this.clock.now());
    if (!stored || stored.subject !== claims.sub || stored.tokenHash !== sha256(token)) return undefined;
    return {
      subject: stored.subject,
      scopes: stored.kind === 'refresh' ? [REFRESH_SCOPE] : stored.scopes,
      renews: stored.kind === 'refresh' ? stored.scopes : [],
      id: claims.jti!,
      familyId: stored.familyId,
      kind: stored.kind,
      expiresAt: claims.exp! * 1000,
    };
  }

  private async issueFamily(
    subject: string,
    familyId: string,
    scopes: string[],
    ttlSeconds: number,
  ): Promise<IssuedTokens> {
    const now = this.clock.now();
    const access = await this.sign(subject, 'access', scopes, now, ttlSeconds);
    const refresh = await this.sign(subject, 'refresh', [REFRESH_SCOPE], now, REFRESH_TTL_SECONDS);
    const record = (kind: TokenKind, t: typeof access): TokenRecord => ({
      id: t.id,
      subject,
      familyId,
      kind,
      scopes,
      tokenHash: sha256(t.token),
      createdAt: now,
      expiresAt: t.expiresAt,
    });
    await this.store.insert([record('access', access), record('refresh', refresh)], now);
    return {
      id: access.id,
      token_type: 'Bearer',
      access_token: access.token,
      refresh_token: refresh.token,
      expires_at: new Date(access.expiresAt).toISOString(),
    };
  }

  private async sign(subject: string, kind: TokenKind, scopes: string[], now: number, ttlSeconds: number) {
    const id = newId();
    const issuedAt = Math.floor(now / 1000);
    const expiresAt = (issuedAt + ttlSeconds) * 1000;
    const token = await new SignJWT({ user_id: subject, scopes: kind === 'refresh' ? [REFRESH_SCOPE] : scopes })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(subject)
      .setJti(id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds)
      .sign(this.key);
    return { id, token, expiresAt };
  }
}
