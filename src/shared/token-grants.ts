import type { TokenGrant } from './access-tokens.ts';

export interface TokenGrantRow {
  id: string;
  scopes: string;
  expires_at: number | string;
  issued_at: number | string;
  renewable_until: number | string | null;
  revoked_at: number | string | null;
}

/** PostgreSQL answers bigints and aggregates as strings. */
const numberOrNull = (value: number | string | null) => (value === null ? null : Number(value));
export const toTokenGrant = (row: TokenGrantRow): TokenGrant => ({
  id: row.id,
  scopes: JSON.parse(row.scopes) as string[],
  issuedAt: Number(row.issued_at),
  expiresAt: Number(row.expires_at),
  renewableUntil: numberOrNull(row.renewable_until),
  revokedAt: numberOrNull(row.revoked_at),
});

/**
 * A grant is a family: listed by its newest access token, with the family's first issue, its
 * revocation and its unspent refresh token's expiry. Written with the subject's column as `owner`
 * so the device's store (column `subject`) runs the same text.
 */
export const grantListSql = (owner: string) =>
  `WITH families AS (
     SELECT family_id, MIN(created_at) AS issued_at, MAX(revoked_at) AS revoked_at,
            MAX(CASE WHEN kind = 'refresh' AND spent_at IS NULL THEN expires_at END) AS renewable_until
       FROM access_tokens WHERE ${owner} = :subject GROUP BY family_id
   ), newest AS (
     SELECT id, family_id, scopes, expires_at,
            ROW_NUMBER() OVER (PARTITION BY family_id ORDER BY created_at DESC, id DESC) AS recency
       FROM access_tokens WHERE ${owner} = :subject AND kind = 'access'
   )
   SELECT n.id, n.scopes, n.expires_at, f.issued_at, f.revoked_at, f.renewable_until
     FROM newest n JOIN families f ON f.family_id = n.family_id
    WHERE n.recency = 1
    ORDER BY f.issued_at DESC, n.id DESC LIMIT :limit`;
