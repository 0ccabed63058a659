import { STATE_RANK, type ProcessState } from '../../protocol/index.ts';
import type { SqliteDb } from '../store/sqlite.ts';
import type { MessageFilter, MessageRecord, MessagesRepository, StateReport } from './repository.ts';

interface MessageRow {
  user_id: string;
  id: string;
  device_id: string;
  text: string;
  sim_number: number | null;
  with_delivery_report: number;
  is_encrypted: number;
  priority: number;
  valid_until: number | null;
  state: string;
  created_at: number;
  updated_at: number;
}

export class SqliteMessagesRepository implements MessagesRepository {
  private readonly statements;

  constructor(private readonly db: SqliteDb) {
    this.statements = {
      insertMessage: db.prepare(
        `INSERT INTO messages (user_id, id, device_id, text, sim_number, with_delivery_report, is_encrypted,
                               priority, valid_until, state, state_rank, created_at, updated_at)
         VALUES (:userId, :id, :deviceId, :text, :simNumber, :withDeliveryReport, :isEncrypted,
                 :priority, :validUntil, :state, :stateRank, :createdAt, :updatedAt)
         ON CONFLICT (user_id, id) DO NOTHING`,
      ),
      insertRecipient: db.prepare(
        `INSERT INTO message_recipients (user_id, message_id, position, phone_number, state, state_rank, error)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      // The earliest time reported for a state is kept, so concurrent reports give the same
      // result in any order (the PostgreSQL store does the same with LEAST).
      recordState: db.prepare<[string, string, string, number]>(
        `INSERT INTO message_states (user_id, message_id, state, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id, message_id, state) DO UPDATE SET at = min(at, excluded.at)`,
      ),
      getUserMessage: db.prepare<[string, string], MessageRow>(`SELECT * FROM messages WHERE user_id = ? AND id = ?`),
      recipientsOf: db.prepare<[string, string], { phone_number: string; state: string; error: string | null }>(
        `SELECT phone_number, state, error FROM message_recipients
         WHERE user_id = ? AND message_id = ? ORDER BY position`,
      ),
      statesOf: db.prepare<[string, string], { state: string; at: number }>(
        `SELECT state, at FROM message_states WHERE user_id = ? AND message_id = ? ORDER BY at, state`,
      ),
      listPendingForDevice: db.prepare<[string, number], MessageRow>(
        `SELECT * FROM messages WHERE device_id = ? AND state = 'Pending'
         ORDER BY created_at, id LIMIT ?`,
      ),
      findDeviceMessage: db.prepare<[string, string], { user_id: string }>(
        `SELECT user_id FROM messages WHERE device_id = ? AND id = ?`,
      ),
      advanceMessage: db.prepare(
        `UPDATE messages SET state = :state, state_rank = :rank, updated_at = :now
         WHERE user_id = :userId AND id = :id AND state_rank < :rank`,
      ),
      advanceRecipient: db.prepare(
        `UPDATE message_recipients SET state = :state, state_rank = :rank, error = :error
         WHERE user_id = :userId AND message_id = :id AND phone_number = :phoneNumber AND state_rank < :rank`,
      ),
    };
  }

  private hydrate(row: MessageRow): MessageRecord {
    const states: MessageRecord['states'] = {};
    for (const s of this.statements.statesOf.all(row.user_id, row.id)) states[s.state as ProcessState] = s.at;
    return {
      userId: row.user_id,
      id: row.id,
      deviceId: row.device_id,
      text: row.text,
      simNumber: row.sim_number,
      withDeliveryReport: row.with_delivery_report === 1,
      isEncrypted: row.is_encrypted === 1,
      priority: row.priority,
      validUntil: row.valid_until,
      state: row.state as ProcessState,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      recipients: this.statements.recipientsOf.all(row.user_id, row.id).map((r) => ({
        phoneNumber: r.phone_number,
        state: r.state as ProcessState,
        error: r.error,
      })),
      states,
    };
  }

  async insertMessage(m: MessageRecord): Promise<'inserted' | 'duplicate-id'> {
    return this.db.transaction((): 'inserted' | 'duplicate-id' => {
      const inserted = this.statements.insertMessage.run({
        userId: m.userId,
        id: m.id,
        deviceId: m.deviceId,
        text: m.text,
        simNumber: m.simNumber,
        withDeliveryReport: m.withDeliveryReport ? 1 : 0,
        isEncrypted: m.isEncrypted ? 1 : 0,
        priority: m.priority,
        validUntil: m.validUntil,
        state: m.state,
        stateRank: STATE_RANK[m.state],
        createdAt: m.createdAt,
        updatedAt: m.updatedAt,
      });
      if (inserted.changes === 0) return 'duplicate-id';
      m.recipients.forEach((r, position) =>
        this.statements.insertRecipient.run(
          m.userId,
          m.id,
          position,
          r.phoneNumber,
          r.state,
          STATE_RANK[r.state],
          r.error,
        ),
      );
      for (const [state, at] of Object.entries(m.states)) this.statements.recordState.run(m.userId, m.id, state, at!);
      return 'inserted';
    })();
  }

  async getUserMessage(userId: string, id: string): Promise<MessageRecord | undefined> {
    const row = this.statements.getUserMessage.get(userId, id);
    return row && this.hydrate(row);
  }

  async listUserMessages(
    userId: string,
    filter: MessageFilter,
    page: { limit: number; offset: number },
  ): Promise<{ items: MessageRecord[]; total: number }> {
    // The filter is a fixed set of optional conditions; each is a bound parameter, never spliced text.
    const where = [
      'user_id = :userId',
      filter.deviceId !== undefined ? 'device_id = :deviceId' : '',
      filter.state !== undefined ? 'state = :state' : '',
      filter.from !== undefined ? 'created_at >= :from' : '',
      filter.to !== undefined ? 'created_at < :to' : '',
    ]
      .filter(Boolean)
      .join(' AND ');
    const params: Record<string, string | number> = { userId, limit: page.limit, offset: page.offset };
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) params[key] = value;
    const rows = this.db
      .prepare<typeof params, MessageRow>(
        `SELECT * FROM messages WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset`,
      )
      .all(params);
    const { total } = this.db
      .prepare<typeof params, { total: number }>(`SELECT count(*) AS total FROM messages WHERE ${where}`)
      .get(params)!;
    return { items: rows.map((row) => this.hydrate(row)), total };
  }

  async listPendingForDevice(deviceId: string, limit: number): Promise<MessageRecord[]> {
    return this.statements.listPendingForDevice.all(deviceId, limit).map((row) => this.hydrate(row));
  }

  async applyStateReport(deviceId: string, report: StateReport, now: number): Promise<boolean> {
    return this.db.transaction((): boolean => {
      const owner = this.statements.findDeviceMessage.get(deviceId, report.id);
      if (!owner) return false;
      const key = { userId: owner.user_id, id: report.id };
      this.statements.advanceMessage.run({ ...key, state: report.state, rank: STATE_RANK[report.state], now });
      for (const r of report.recipients) {
        this.statements.advanceRecipient.run({
          ...key,
          phoneNumber: r.phoneNumber,
          state: r.state,
          rank: STATE_RANK[r.state],
          error: r.error ?? null,
        });
      }
      for (const [state, at] of Object.entries(report.states))
        this.statements.recordState.run(owner.user_id, report.id, state, at!);
      return true;
    })();
  }
}
