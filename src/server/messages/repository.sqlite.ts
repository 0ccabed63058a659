import { STATE_RANK, type ProcessState, type PullOrder } from '../../protocol/index.ts';
import { StatementCache, inTransaction } from '../../shared/sqlite.ts';
import { hashContent, hashPhoneNumber } from './hashing.ts';
import { prepareAll, type SqliteDb } from '../store/sqlite.ts';
import type {
  MessageFilter,
  MessagePage,
  MessageRecord,
  MessagesRepository,
  ReportOptions,
  StateReport,
} from './repository.ts';
import { MESSAGE_COLUMNS, MESSAGES_SQL, messageInsert, messageReads, toMessage } from './repository.shared.ts';
import type { MessageListParams, MessageRow } from './repository.shared.ts';

interface MessageKey {
  userId: string;
  id: string;
}

export class SqliteMessagesRepository implements MessagesRepository {
  private readonly statements;
  private readonly lists;
  private readonly reads = messageReads(MESSAGE_COLUMNS);

  constructor(private readonly db: SqliteDb) {
    const reads = this.reads;
    this.statements = {
      ...prepareAll(db, MESSAGES_SQL),
      insertRecipient: db.prepare<
        MessageKey & { position: number; phoneNumber: string; state: ProcessState; rank: number; error: string | null }
      >(
        `INSERT INTO message_recipients (user_id, message_id, position, phone_number, state, state_rank, error)
         VALUES (:userId, :id, :position, :phoneNumber, :state, :rank, :error)`,
      ),
      // The earliest time reported for a state is kept, so concurrent reports give the same
      // result in any order (the PostgreSQL store does the same with LEAST).
      recordState: db.prepare<MessageKey & { state: string; at: number }>(
        `INSERT INTO message_states (user_id, message_id, state, at) VALUES (:userId, :id, :state, :at)
         ON CONFLICT (user_id, message_id, state) DO UPDATE SET at = min(at, excluded.at)`,
      ),
      getUserMessage: db.prepare<MessageKey, MessageRow>(reads.byId),
      recipientsOf: db.prepare<MessageKey, { phoneNumber: string; state: ProcessState; error: string | null }>(
        `SELECT phone_number AS phoneNumber, state, error FROM message_recipients
         WHERE user_id = :userId AND message_id = :id ORDER BY position`,
      ),
      statesOf: db.prepare<MessageKey, { state: ProcessState; at: number }>(
        `SELECT state, at FROM message_states WHERE user_id = :userId AND message_id = :id ORDER BY at, state`,
      ),
      listPendingFifo: db.prepare<{ deviceId: string; limit: number }, MessageRow>(reads.fifo),
      listPendingLifo: db.prepare<{ deviceId: string; limit: number }, MessageRow>(reads.lifo),
      listCancelling: db.prepare<{ deviceId: string; limit: number }, MessageRow>(reads.cancelling),
      // One writer at a time on SQLite: the report's transaction needs no row lock.
      findDeviceMessage: db.prepare<{ deviceId: string; id: string }, { user_id: string }>(
        `SELECT user_id FROM messages WHERE device_id = :deviceId AND id = :id`,
      ),
      // The rank guard: a report never moves a recipient backwards.
      advanceRecipient: db.prepare<
        MessageKey & { phoneNumber: string; state: ProcessState; rank: number; error: string | null }
      >(
        `UPDATE message_recipients SET state = :state, state_rank = :rank, error = :error
         WHERE user_id = :userId AND message_id = :id AND phone_number = :phoneNumber AND state_rank < :rank`,
      ),
    };
    this.lists = new StatementCache(db);
  }

  private hydrate(row: MessageRow): MessageRecord {
    const key = { userId: row.user_id, id: row.id };
    const states: MessageRecord['states'] = {};
    for (const s of this.statements.statesOf.all(key)) states[s.state] = s.at;
    return toMessage(row, this.statements.recipientsOf.all(key), states);
  }

  async insertMessage(m: MessageRecord): Promise<'inserted' | 'duplicate-id'> {
    return inTransaction(this.db, (): 'inserted' | 'duplicate-id' => {
      const inserted = this.statements.insertMessage.run(messageInsert(m, (flag) => (flag ? 1 : 0)));
      if (inserted.changes === 0) return 'duplicate-id';
      const key = { userId: m.userId, id: m.id };
      m.recipients.forEach((r, position) =>
        this.statements.insertRecipient.run({
          ...key,
          position,
          phoneNumber: r.phoneNumber,
          state: r.state,
          rank: STATE_RANK[r.state],
          error: r.error,
        }),
      );
      for (const [state, at] of Object.entries(m.states)) this.statements.recordState.run({ ...key, state, at: at! });
      return 'inserted';
    });
  }

  async getUserMessage(userId: string, id: string): Promise<MessageRecord | undefined> {
    const row = this.statements.getUserMessage.get({ userId, id });
    return row && this.hydrate(row);
  }

  async listUserMessages(
    userId: string,
    filter: MessageFilter,
    page: MessagePage,
  ): Promise<{ items: MessageRecord[]; total: number }> {
    const { text, count } = this.reads.list(filter, page.order);
    const params: MessageListParams = { userId, ...filter, limit: page.limit, offset: page.offset };
    const rows = this.lists.get<MessageListParams, MessageRow>(text).all(params);
    const { total } = this.lists.get<MessageListParams, { total: number }>(count.text).get(params)!;
    return { items: rows.map((row) => this.hydrate(row)), total };
  }

  async listCancellingForDevice(deviceId: string, limit: number): Promise<MessageRecord[]> {
    return this.statements.listCancelling.all({ deviceId, limit }).map((row) => this.hydrate(row));
  }

  async listPendingForDevice(deviceId: string, limit: number, order: PullOrder): Promise<MessageRecord[]> {
    const statement = order === 'fifo' ? this.statements.listPendingFifo : this.statements.listPendingLifo;
    return statement.all({ deviceId, limit }).map((row) => this.hydrate(row));
  }

  async applyStateReport(
    deviceId: string,
    report: StateReport,
    now: number,
    options?: ReportOptions,
  ): Promise<boolean> {
    return inTransaction(this.db, () => this.applyOne(deviceId, report, now, options));
  }

  async applyStateReports(
    deviceId: string,
    reports: readonly { report: StateReport; options?: ReportOptions }[],
    now: number,
  ): Promise<number> {
    return inTransaction(
      this.db,
      () => reports.filter(({ report, options }) => this.applyOne(deviceId, report, now, options)).length,
    );
  }

  /** applyStateReport inside the caller's transaction */
  private applyOne(deviceId: string, report: StateReport, now: number, options?: ReportOptions): boolean {
    const owner = this.statements.findDeviceMessage.get({ deviceId, id: report.id });
    if (!owner) return false;
    // Parameters written out, not spread from a shared key: on Node 20 an object that starts with a
    // spread outlives young-generation collections, and these are made for every state report.
    const userId = owner.user_id;
    const id = report.id;
    this.statements.advanceMessage.run({ userId, id, state: report.state, rank: STATE_RANK[report.state], now });
    for (const r of report.recipients) {
      this.statements.advanceRecipient.run({
        userId,
        id,
        phoneNumber: r.phoneNumber,
        state: r.state,
        rank: STATE_RANK[r.state],
        error: r.error ?? null,
      });
    }
    if (report.state === 'Cancelled' && report.recipients.length === 0)
      this.statements.cancelOpenRecipients.run({ userId, id, rank: STATE_RANK.Cancelled });
    for (const [state, at] of Object.entries(report.states))
      this.statements.recordState.run({ userId, id, state, at: at! });
    if (options?.hashFinal) this.hashFinal(deviceId, report.id);
    return true;
  }

  async hashIfFinal(deviceId: string, id: string): Promise<boolean> {
    return inTransaction(this.db, () => this.hashFinal(deviceId, id));
  }

  /** hashIfFinal inside the caller's transaction */
  private hashFinal(deviceId: string, id: string): boolean {
    const row = this.statements.finalToHash.get({ deviceId, id, no: 0 });
    if (!row) return false;
    const key = { userId: row.user_id, id };
    this.statements.hashMessage.run({ ...key, text: hashContent(row.text), yes: 1 });
    for (const r of this.statements.recipientsToHash.all(key))
      this.statements.hashRecipient.run({ ...key, position: r.position, phoneNumber: hashPhoneNumber(r.phone_number) });
    return true;
  }

  async purgeExpired(userId: string, cutoff: number, limit: number): Promise<number> {
    return this.statements.purgeExpired.run({ userId, cutoff, limit }).changes;
  }

  async markCancelling(userId: string, id: string, now: number): Promise<boolean> {
    return this.db.transaction((): boolean => {
      if (this.statements.markCancelling.run({ userId, id, now }).changes === 0) return false;
      this.statements.recordState.run({ userId, id, state: 'Cancelling', at: now });
      return true;
    })();
  }
}
