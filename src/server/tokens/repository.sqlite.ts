import type { LiveToken, TokenGrant, TokenRecord, TokenStore } from '../../shared/access-tokens.ts';
import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import { KEEP_EXPIRED_MS, toLiveToken, toTokenParams, TOKENS_SQL } from './repository.shared.ts';
import { toTokenGrant } from '../../shared/token-grants.ts';

export class SqliteTokensRepository implements TokenStore {
  private readonly statements;
  private readonly insertAll;

  constructor(db: SqliteDb) {
    this.statements = prepareAll(db, TOKENS_SQL);
    this.insertAll = db.transaction((tokens: TokenRecord[], now: number) => {
      for (const subject of new Set(tokens.map((t) => t.subject))) {
        this.statements.purgeExpired.run({ userId: subject, before: now - KEEP_EXPIRED_MS });
      }
      for (const token of tokens) this.statements.insert.run(toTokenParams(token));
    });
  }

  async insert(tokens: TokenRecord[], now: number): Promise<void> {
    this.insertAll(tokens, now);
  }

  async findLive(id: string, now: number): Promise<LiveToken | undefined> {
    const row = this.statements.findLive.get({ id, now });
    return row && toLiveToken(row);
  }

  async spend(id: string, now: number): Promise<boolean> {
    return this.statements.spend.run({ id, now }).changes === 1;
  }

  async revokeFamily(subject: string, id: string, now: number): Promise<string | undefined> {
    const familyId = this.statements.familyOf.get({ userId: subject, id })?.family_id;
    if (familyId !== undefined) this.statements.revokeFamily.run({ familyId, now });
    return familyId;
  }

  async listGrants(subject: string, limit: number): Promise<TokenGrant[]> {
    return this.statements.listGrants.all({ subject, limit }).map(toTokenGrant);
  }
}
