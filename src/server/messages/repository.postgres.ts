import { STATE_RANK, type ProcessState } from '../../protocol/index.ts';
import { inTransaction, type PgPool } from '../store/postgres.ts';
import type { MessageFilter, MessageRecord, MessagesRepository, RecipientRecord, StateReport } from './repository.ts';

interface MessageRow {
  user_id: string;
  id: string;
  device_id: string;
  text: string;
  sim_number: number | null;
  with_delivery_report: boolean;
  is_encrypted: boolean;
  priority: number;
  valid_until: number | null;
  state: string;
  created_at: number;
  updated_at: number;
  recipients: RecipientRecord[];
  states: Record<string, number>;
}

/**
 * A message with its recipients and state times, read in one statement (one snapshot), so a
 * report landing meanwhile is seen entirely or not at all. `m` is the messages row.
 */
const MESSAGE_COLUMNS = `
  m.user_id, m.id, m.device_id, m.text, m.sim_number, m.with_delivery_report, m.is_encrypted,
  m.priority, m.valid_until, m.state, m.created_at, m.updated_at,
  COALESCE((SELECT json_agg(json_build_object('phoneNumber', r.phone_number, 'state', r.state, 'error', r.error) ORDER BY r.position)
            FROM message_recipients r WHERE r.user_id = m.user_id AND r.message_id = m.id), '[]'::json) AS recipients,
  COALESCE((SELECT json_object_agg(s.state, s.at ORDER BY s.at, s.state)
            FROM message_states s WHERE s.user_id = m.user_id AND s.message_id = m.id), '{}'::json) AS states`;

const toMessage = (row: MessageRow): MessageRecord => ({
  userId: row.user_id,
  id: row.id,
  deviceId: row.device_id,
  text: row.text,
  simNumber: row.sim_number,
  withDeliveryReport: row.with_delivery_report,
  isEncrypted: row.is_encrypted,
  priority: row.priority,
  validUntil: row.valid_until,
  state: row.state as ProcessState,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  recipients: row.recipients.map((r) => ({ phoneNumber: r.phoneNumber, state: r.state, error: r.error })),
  states: row.states as MessageRecord['states'],
});

/** state → time pairs as two parallel arrays, for unnest() */
const stateArrays = (states: Partial<Record<ProcessState, number>>): [string[], number[]] => {
  const entries = Object.entries(states) as [string, number][];
  return [entries.map(([state]) => state), entries.map(([, at]) => at)];
};

export class PostgresMessagesRepository implements MessagesRepository {
  constructor(private readonly pool: PgPool) {}

  async insertMessage(m: MessageRecord): Promise<'inserted' | 'duplicate-id'> {
    return inTransaction(this.pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO messages (user_id, id, device_id, text, sim_number, with_delivery_report, is_encrypted,
                               priority, valid_until, state, state_rank, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (user_id, id) DO NOTHING`,
        [
          m.userId,
          m.id,
          m.deviceId,
          m.text,
          m.simNumber,
          m.withDeliveryReport,
          m.isEncrypted,
          m.priority,
          m.validUntil,
          m.state,
          STATE_RANK[m.state],
          m.createdAt,
          m.updatedAt,
        ],
      );
      if (inserted.rowCount === 0) return 'duplicate-id';
      await client.query(
        `INSERT INTO message_recipients (user_id, message_id, position, phone_number, state, state_rank, error)
         SELECT $1, $2, r.n - 1, r.phone_number, r.state, r.state_rank, r.error
         FROM unnest($3::text[], $4::text[], $5::smallint[], $6::text[]) WITH ORDINALITY AS r(phone_number, state, state_rank, error, n)`,
        [
          m.userId,
          m.id,
          m.recipients.map((r) => r.phoneNumber),
          m.recipients.map((r) => r.state),
          m.recipients.map((r) => STATE_RANK[r.state]),
          m.recipients.map((r) => r.error),
        ],
      );
      const [states, times] = stateArrays(m.states);
      await client.query(
        `INSERT INTO message_states (user_id, message_id, state, at)
         SELECT $1, $2, s.state, s.at FROM unnest($3::text[], $4::bigint[]) AS s(state, at)`,
        [m.userId, m.id, states, times],
      );
      return 'inserted';
    });
  }

  async getUserMessage(userId: string, id: string): Promise<MessageRecord | undefined> {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.user_id = $1 AND m.id = $2`,
      [userId, id],
    );
    return rows[0] && toMessage(rows[0]);
  }

  async listUserMessages(
    userId: string,
    filter: MessageFilter,
    page: { limit: number; offset: number },
  ): Promise<{ items: MessageRecord[]; total: number }> {
    // The filter is a fixed set of optional conditions; each is a bound parameter, never spliced text.
    const params: unknown[] = [userId];
    const where = ['m.user_id = $1'];
    const condition = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.deviceId !== undefined) condition('m.device_id = ?', filter.deviceId);
    if (filter.state !== undefined) condition('m.state = ?', filter.state);
    if (filter.from !== undefined) condition('m.created_at >= ?', filter.from);
    if (filter.to !== undefined) condition('m.created_at < ?', filter.to);
    const whereSql = where.join(' AND ');
    // The page and the count from one snapshot, so X-Total-Count matches the page.
    return inTransaction(
      this.pool,
      async (client) => {
        const { rows } = await client.query<MessageRow>(
          `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE ${whereSql}
           ORDER BY m.created_at DESC, m.id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, page.limit, page.offset],
        );
        const counted = await client.query<{ total: number }>(
          `SELECT count(*) AS total FROM messages m WHERE ${whereSql}`,
          params,
        );
        return { items: rows.map(toMessage), total: counted.rows[0].total };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  async listPendingForDevice(deviceId: string, limit: number): Promise<MessageRecord[]> {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.device_id = $1 AND m.state = 'Pending'
       ORDER BY m.created_at, m.id LIMIT $2`,
      [deviceId, limit],
    );
    return rows.map(toMessage);
  }

  async applyStateReport(deviceId: string, report: StateReport, now: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      // Lock the message first: reports about one message (from any node) then run one after
      // the other, so their recipient updates can never deadlock. The rank guards below are
      // what keeps the state from going backwards.
      const owner = await client.query<{ user_id: string }>(
        `SELECT user_id FROM messages WHERE device_id = $1 AND id = $2 FOR UPDATE`,
        [deviceId, report.id],
      );
      if (owner.rowCount === 0) return false;
      const userId = owner.rows[0].user_id;
      await client.query(
        `UPDATE messages SET state = $3, state_rank = $4, updated_at = $5
         WHERE user_id = $1 AND id = $2 AND state_rank < $4`,
        [userId, report.id, report.state, STATE_RANK[report.state], now],
      );
      if (report.recipients.length > 0) {
        // A phone number reported twice counts once: its first entry of the highest rank (what
        // applying the entries one by one under the same guard would leave).
        await client.query(
          `UPDATE message_recipients AS r SET state = u.state, state_rank = u.state_rank, error = u.error
           FROM (
             SELECT DISTINCT ON (phone_number) phone_number, state, state_rank, error
             FROM unnest($3::text[], $4::text[], $5::smallint[], $6::text[]) WITH ORDINALITY AS t(phone_number, state, state_rank, error, n)
             ORDER BY phone_number, state_rank DESC, n
           ) AS u
           WHERE r.user_id = $1 AND r.message_id = $2 AND r.phone_number = u.phone_number AND r.state_rank < u.state_rank`,
          [
            userId,
            report.id,
            report.recipients.map((r) => r.phoneNumber),
            report.recipients.map((r) => r.state),
            report.recipients.map((r) => STATE_RANK[r.state]),
            report.recipients.map((r) => r.error ?? null),
          ],
        );
      }
      const [states, times] = stateArrays(report.states);
      if (states.length > 0) {
        await client.query(
          `INSERT INTO message_states (user_id, message_id, state, at)
           SELECT $1, $2, s.state, s.at FROM unnest($3::text[], $4::bigint[]) AS s(state, at)
           ON CONFLICT (user_id, message_id, state) DO UPDATE SET at = LEAST(message_states.at, excluded.at)`,
          [userId, report.id, states, times],
        );
      }
      return true;
    });
  }
}
