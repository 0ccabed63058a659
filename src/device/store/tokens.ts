import type { Db } from './database.ts';
import type { LiveToken, TokenGrant, TokenRecord, TokenStore } from '../../shared/access-tokens.ts';
import { grantListSql, toTokenGrant, type TokenGrantRow } from '../../shared/token-grants.ts';
import { REFRESH_TTL_SECONDS } from '../../shared/access-tokens.ts';

/** Rows are kept a refresh token's lifetime past expiry: a revoked row marks its family revoked (see the server's). */
const KEEP_EXPIRED_MS = REFRESH_TTL_SECONDS * 1000;

/** The Local API's access tokens in the device's file (only hashes; the same rules as the server's store). */
export class DeviceTokenStore implements TokenStore {
  private readonly statements;
  private readonly insertAll;

  constructor(db: Db) {
    this.statements = {
      insert: db.prepare<[TokenRecord & { scopesJson: string }]>(
        `INSERT INTO access_tokens (id, subject, family_id, kind, scopes, token_hash, created_at, expires_at)
         VALUES (:id, :subject, :familyId, :kind, :scopesJson, :tokenHash, :createdAt, :expiresAt)`,
      ),
      purgeExpired: db.prepare<[{ before: number }]>(`DELETE FROM access_tokens WHERE expires_at < :before`),
      findLive: db.prepare<
        [{ id: string; now: number }],
        { subject: string; family_id: string; kind: 'access' | 'refresh'; scopes: string; token_hash: string }
      >(
        `SELECT t.subject, t.family_id, t.kind, t.scopes, t.token_hash
           FROM access_tokens t
          WHERE t.id = :id AND t.expires_at > :now
            AND NOT EXISTS (SELECT 1 FROM access_tokens r WHERE r.family_id = t.family_id AND r.revoked_at IS NOT NULL)`,
      ),
      spend: db.prepare<[{ id: string; now: number }]>(
        `UPDATE access_tokens SET spent_at = :now WHERE id = :id AND kind = 'refresh' AND spent_at IS NULL`,
      ),
      familyOf: db.prepare<[{ subject: string; id: string }], { family_id: string }>(
        `SELECT family_id FROM access_tokens WHERE id = :id AND subject = :subject`,
      ),
      listGrants: db.prepare<[{ subject: string; limit: number }], TokenGrantRow>(grantListSql('subject')),
      revokeFamily: db.prepare<[{ familyId: string; now: number }]>(
        `UPDATE access_tokens SET revoked_at = :now WHERE family_id = :familyId AND revoked_at IS NULL`,
      ),
    };
    this.insertAll = db.transaction((tokens: TokenRecord[], now: number) => {
      this.statements.purgeExpired.run({ before: now - KEEP_EXPIRED_MS });
      for (const token of tokens) this.statements.insert.run({ ...token, scopesJson: JSON.stringify(token.scopes) });
    });
  }

  async insert(tokens: TokenRecord[], now: number): Promise<void> {
    this.insertAll(tokens, now);
  }

  async findLive(id: string, now: number): Promise<LiveToken | undefined> {
    const row = this.statements.findLive.get({ id, now });
    return (
      row && {
        subject: row.subject,
        familyId: row.family_id,
        kind: row.kind,
        scopes: JSON.parse(row.scopes) as string[],
        tokenHash: row.token_hash,
      }
    );
  }

  async spend(id: string, now: number): Promise<boolean> {
    return this.statements.spend.run({ id, now }).changes === 1;
  }

  async revokeFamily(subject: string, id: string, now: number): Promise<string | undefined> {
    const familyId = this.statements.familyOf.get({ subject, id })?.family_id;
    if (familyId !== undefined) this.statements.revokeFamily.run({ familyId, now });
    return familyId;
  }

  async listGrants(subject: string, limit: number): Promise<TokenGrant[]> {
    return this.statements.listGrants.all({ subject, limit }).map(toTokenGrant);
  }
}
