import type { LiveToken, TokenGrant, TokenRecord, TokenStore } from '../../shared/access-tokens.ts';
import { query, type PgPool } from '../store/postgres.ts';
import { KEEP_EXPIRED_MS, toLiveToken, toTokenParams, TOKENS_SQL } from './repository.shared.ts';
import { toTokenGrant } from '../../shared/token-grants.ts';

export class PostgresTokensRepository implements TokenStore {
  constructor(private readonly pool: PgPool) {}

  async insert(tokens: TokenRecord[], now: number): Promise<void> {
    for (const subject of new Set(tokens.map((t) => t.subject))) {
      await query(this.pool, TOKENS_SQL.purgeExpired, { userId: subject, before: now - KEEP_EXPIRED_MS });
    }
    // Each row on its own: a pair half inserted is only a token nobody holds.
    for (const token of tokens) await query(this.pool, TOKENS_SQL.insert, toTokenParams(token));
  }

  async findLive(id: string, now: number): Promise<LiveToken | undefined> {
    const { rows } = await query(this.pool, TOKENS_SQL.findLive, { id, now });
    return rows[0] && toLiveToken(rows[0]);
  }

  async spend(id: string, now: number): Promise<boolean> {
    return (await query(this.pool, TOKENS_SQL.spend, { id, now })).rowCount === 1;
  }

  async revokeFamily(subject: string, id: string, now: number): Promise<string | undefined> {
    const { rows } = await query(this.pool, TOKENS_SQL.familyOf, { userId: subject, id });
    const familyId = rows[0]?.family_id;
    if (familyId !== undefined) await query(this.pool, TOKENS_SQL.revokeFamily, { familyId, now });
    return familyId;
  }

  async listGrants(subject: string, limit: number): Promise<TokenGrant[]> {
    return (await query(this.pool, TOKENS_SQL.listGrants, { subject, limit })).rows.map(toTokenGrant);
  }
}
