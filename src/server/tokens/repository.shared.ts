import type { LiveToken, TokenRecord } from '../../shared/access-tokens.ts';
import { grantListSql, type TokenGrantRow } from '../../shared/token-grants.ts';
import { REFRESH_TTL_SECONDS } from '../../shared/access-tokens.ts';
import { sql } from '../store/sql.ts';

interface LiveTokenRow {
  user_id: string;
  family_id: string;
  kind: 'access' | 'refresh';
  scopes: string;
  token_hash: string;
}

export const toLiveToken = (row: LiveTokenRow): LiveToken => ({
  subject: row.user_id,
  familyId: row.family_id,
  kind: row.kind,
  scopes: JSON.parse(row.scopes) as string[],
  tokenHash: row.token_hash,
});

export const toTokenParams = (token: TokenRecord) => ({
  id: token.id,
  userId: token.subject,
  familyId: token.familyId,
  kind: token.kind,
  scopes: JSON.stringify(token.scopes),
  tokenHash: token.tokenHash,
  createdAt: token.createdAt,
  expiresAt: token.expiresAt,
});

/**
 * Rows are kept a refresh token's lifetime past their expiry: a revoked row marks its family
 * revoked, and must outlive any token of the family inserted in the same moment (a refresh
 * racing its own replay).
 */
export const KEEP_EXPIRED_MS = REFRESH_TTL_SECONDS * 1000;

/** The same SQL on both stores. */
export const TOKENS_SQL = {
  insert: sql<ReturnType<typeof toTokenParams>>(
    'tokens.insert',
    `INSERT INTO access_tokens (id, user_id, family_id, kind, scopes, token_hash, created_at, expires_at)
     VALUES (:id, :userId, :familyId, :kind, :scopes, :tokenHash, :createdAt, :expiresAt)`,
  ),
  purgeExpired: sql<{ userId: string; before: number }>(
    'tokens.purge-expired',
    `DELETE FROM access_tokens WHERE user_id = :userId AND expires_at < :before`,
  ),
  // A token counts while it has not expired and no token of its family is revoked.
  findLive: sql<{ id: string; now: number }, LiveTokenRow>(
    'tokens.find-live',
    `SELECT t.user_id, t.family_id, t.kind, t.scopes, t.token_hash
       FROM access_tokens t
      WHERE t.id = :id AND t.expires_at > :now
        AND NOT EXISTS (SELECT 1 FROM access_tokens r WHERE r.family_id = t.family_id AND r.revoked_at IS NOT NULL)`,
  ),
  spend: sql<{ id: string; now: number }>(
    'tokens.spend',
    `UPDATE access_tokens SET spent_at = :now WHERE id = :id AND kind = 'refresh' AND spent_at IS NULL`,
  ),
  familyOf: sql<{ userId: string; id: string }, { family_id: string }>(
    'tokens.family-of',
    `SELECT family_id FROM access_tokens WHERE id = :id AND user_id = :userId`,
  ),
  listGrants: sql<{ subject: string; limit: number }, TokenGrantRow>('tokens.list-grants', grantListSql('user_id')),
  revokeFamily: sql<{ familyId: string; now: number }>(
    'tokens.revoke-family',
    `UPDATE access_tokens SET revoked_at = :now WHERE family_id = :familyId AND revoked_at IS NULL`,
  ),
};
