import { STATE_RANK, type ProcessState, type PullOrder } from '../../protocol/index.ts';
import { inTransaction, query, type PgClient, type PgPool } from '../store/postgres.ts';
import { sql } from '../store/sql.ts';
import { hashContent, hashPhoneNumber } from './hashing.ts';
import type {
  MessageFilter,
  MessagePage,
  MessageRecord,
  MessagesRepository,
  RecipientRecord,
  ReportOptions,
  StateReport,
} from './repository.ts';
import { MESSAGE_COLUMNS, MESSAGES_SQL, messageInsert, messageReads, toMessage } from './repository.shared.ts';
import type { MessageListParams, MessageRow } from './repository.shared.ts';

interface MessageWithRecipientsRow extends MessageRow {
  recipients: RecipientRecord[];
  states: Record<string, number>;
}

/**
 * A message with its recipients and state times, read in one statement (one snapshot), so a
 * report landing meanwhile is seen entirely or not at all. `m` is the messages row.
 */
const MESSAGE_WITH_RECIPIENTS = `${MESSAGE_COLUMNS},
  COALESCE((SELECT json_agg(json_build_object('phoneNumber', r.phone_number, 'state', r.state, 'error', r.error) ORDER BY r.position)
            FROM message_recipients r WHERE r.user_id = m.user_id AND r.message_id = m.id), '[]'::json) AS recipients,
  COALESCE((SELECT json_object_agg(s.state, s.at ORDER BY s.at, s.state)
            FROM message_states s WHERE s.user_id = m.user_id AND s.message_id = m.id), '{}'::json) AS states`;

const READS = messageReads(MESSAGE_WITH_RECIPIENTS);

interface MessageKey {
  userId: string;
  id: string;
}

/** The statements only PostgreSQL has (the others: MESSAGES_SQL): a message's rows in one statement each. */
const POSTGRES_MESSAGES_SQL = {
  insertRecipients: sql<
    MessageKey & { phoneNumbers: string[]; states: string[]; ranks: number[]; errors: (string | null)[] }
  >(
    'message-recipients.insert',
    `INSERT INTO message_recipients (user_id, message_id, position, phone_number, state, state_rank, error)
     SELECT :userId, :id, r.n - 1, r.phone_number, r.state, r.state_rank, r.error
     FROM unnest(:phoneNumbers::text[], :states::text[], :ranks::smallint[], :errors::text[])
          WITH ORDINALITY AS r(phone_number, state, state_rank, error, n)`,
  ),
  insertStates: sql<MessageKey & { states: string[]; times: number[] }>(
    'message-states.insert',
    `INSERT INTO message_states (user_id, message_id, state, at)
     SELECT :userId, :id, s.state, s.at FROM unnest(:states::text[], :times::bigint[]) AS s(state, at)`,
  ),
  getUserMessage: sql<MessageKey, MessageWithRecipientsRow>('messages.get', READS.byId),
  listCancellingForDevice: sql<{ deviceId: string; limit: number }, MessageWithRecipientsRow>(
    'messages.cancelling-of-device',
    READS.cancelling,
  ),
  listPendingForDevice: {
    fifo: sql<{ deviceId: string; limit: number }, MessageWithRecipientsRow>(
      'messages.pending-of-device-fifo',
      READS.fifo,
    ),
    lifo: sql<{ deviceId: string; limit: number }, MessageWithRecipientsRow>(
      'messages.pending-of-device-lifo',
      READS.lifo,
    ),
  },
  // Locked, so two nodes applying reports of one message never hash it twice.
  finalToHashForUpdate: sql<{ deviceId: string; id: string; no: boolean }, { user_id: string; text: string }>(
    'messages.final-to-hash-locked',
    `${MESSAGES_SQL.finalToHash.text} FOR UPDATE`,
  ),
  // Locks the message: reports about one message (from any node) then run one after the other,
  // so their recipient updates can never deadlock.
  findDeviceMessage: sql<{ deviceId: string; id: string }, { user_id: string }>(
    'messages.lock-of-device',
    `SELECT user_id FROM messages WHERE device_id = :deviceId AND id = :id FOR UPDATE`,
  ),
  // A phone number reported twice counts once: its first entry of the highest rank (what
  // applying the entries one by one under the same guard would leave).
  advanceRecipients: sql<
    MessageKey & { phoneNumbers: string[]; states: string[]; ranks: number[]; errors: (string | null)[] }
  >(
    'message-recipients.advance',
    `UPDATE message_recipients AS r SET state = u.state, state_rank = u.state_rank, error = u.error
     FROM (
       SELECT DISTINCT ON (phone_number) phone_number, state, state_rank, error
       FROM unnest(:phoneNumbers::text[], :states::text[], :ranks::smallint[], :errors::text[])
            WITH ORDINALITY AS t(phone_number, state, state_rank, error, n)
       ORDER BY phone_number, state_rank DESC, n
     ) AS u
     WHERE r.user_id = :userId AND r.message_id = :id AND r.phone_number = u.phone_number AND r.state_rank < u.state_rank`,
  ),
  // The earliest time reported for a state is kept, whatever order concurrent reports arrive in.
  recordStates: sql<MessageKey & { states: string[]; times: number[] }>(
    'message-states.record',
    `INSERT INTO message_states (user_id, message_id, state, at)
     SELECT :userId, :id, s.state, s.at FROM unnest(:states::text[], :times::bigint[]) AS s(state, at)
     ON CONFLICT (user_id, message_id, state) DO UPDATE SET at = LEAST(message_states.at, excluded.at)`,
  ),
};

/** hashIfFinal inside the caller's transaction */
async function hashFinal(client: PgClient, deviceId: string, id: string): Promise<boolean> {
  const { rows } = await query(client, POSTGRES_MESSAGES_SQL.finalToHashForUpdate, { deviceId, id, no: false });
  if (rows.length === 0) return false;
  const key = { userId: rows[0].user_id, id };
  await query(client, MESSAGES_SQL.hashMessage, { ...key, text: hashContent(rows[0].text), yes: true });
  for (const r of (await query(client, MESSAGES_SQL.recipientsToHash, key)).rows)
    await query(client, MESSAGES_SQL.hashRecipient, {
      ...key,
      position: r.position,
      phoneNumber: hashPhoneNumber(r.phone_number),
    });
  return true;
}

const toMessageWithRecipients = (row: MessageWithRecipientsRow): MessageRecord =>
  toMessage(
    row,
    row.recipients.map((r) => ({ phoneNumber: r.phoneNumber, state: r.state, error: r.error })),
    row.states as MessageRecord['states'],
  );

/** state → time pairs as two parallel arrays, for unnest() */
const stateArrays = (states: Partial<Record<ProcessState, number>>): { states: string[]; times: number[] } => {
  const entries = Object.entries(states) as [string, number][];
  return { states: entries.map(([state]) => state), times: entries.map(([, at]) => at) };
};

/** recipients as parallel arrays, for unnest() */
const recipientArrays = (
  recipients: readonly { phoneNumber: string; state: ProcessState; error?: string | null }[],
) => ({
  phoneNumbers: recipients.map((r) => r.phoneNumber),
  states: recipients.map((r) => r.state),
  ranks: recipients.map((r) => STATE_RANK[r.state]),
  errors: recipients.map((r) => r.error ?? null),
});

export class PostgresMessagesRepository implements MessagesRepository {
  constructor(private readonly pool: PgPool) {}

  async insertMessage(m: MessageRecord): Promise<'inserted' | 'duplicate-id'> {
    return inTransaction(this.pool, async (client) => {
      const inserted = await query(
        client,
        MESSAGES_SQL.insertMessage,
        messageInsert(m, (flag) => flag),
      );
      if (inserted.rowCount === 0) return 'duplicate-id';
      const key = { userId: m.userId, id: m.id };
      await query(client, POSTGRES_MESSAGES_SQL.insertRecipients, { ...key, ...recipientArrays(m.recipients) });
      await query(client, POSTGRES_MESSAGES_SQL.insertStates, { ...key, ...stateArrays(m.states) });
      return 'inserted';
    });
  }

  async getUserMessage(userId: string, id: string): Promise<MessageRecord | undefined> {
    const { rows } = await query(this.pool, POSTGRES_MESSAGES_SQL.getUserMessage, { userId, id });
    return rows[0] && toMessageWithRecipients(rows[0]);
  }

  async listUserMessages(
    userId: string,
    filter: MessageFilter,
    page: MessagePage,
  ): Promise<{ items: MessageRecord[]; total: number }> {
    const { shape, text, count } = READS.list(filter, page.order);
    const statement = sql<MessageListParams, MessageWithRecipientsRow>(`messages.list[${shape}]`, text);
    const params: MessageListParams = { userId, ...filter, limit: page.limit, offset: page.offset };
    // The page and the count from one snapshot, so X-Total-Count matches the page.
    return inTransaction(
      this.pool,
      async (client) => {
        const { rows } = await query(client, statement, params);
        const counted = await query(client, count, params);
        return { items: rows.map(toMessageWithRecipients), total: counted.rows[0].total };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  async listCancellingForDevice(deviceId: string, limit: number): Promise<MessageRecord[]> {
    const { rows } = await query(this.pool, POSTGRES_MESSAGES_SQL.listCancellingForDevice, { deviceId, limit });
    return rows.map(toMessageWithRecipients);
  }

  async listPendingForDevice(deviceId: string, limit: number, order: PullOrder): Promise<MessageRecord[]> {
    const { rows } = await query(this.pool, POSTGRES_MESSAGES_SQL.listPendingForDevice[order], { deviceId, limit });
    return rows.map(toMessageWithRecipients);
  }

  applyStateReport(deviceId: string, report: StateReport, now: number, options?: ReportOptions): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      // The message is locked first; the rank guards are what keep the state from going backwards.
      const owner = await query(client, POSTGRES_MESSAGES_SQL.findDeviceMessage, { deviceId, id: report.id });
      if (owner.rowCount === 0) return false;
      const key = { userId: owner.rows[0].user_id, id: report.id };
      await query(client, MESSAGES_SQL.advanceMessage, {
        ...key,
        state: report.state,
        rank: STATE_RANK[report.state],
        now,
      });
      if (report.recipients.length > 0) {
        await query(client, POSTGRES_MESSAGES_SQL.advanceRecipients, { ...key, ...recipientArrays(report.recipients) });
      }
      if (report.state === 'Cancelled' && report.recipients.length === 0)
        await query(client, MESSAGES_SQL.cancelOpenRecipients, { ...key, rank: STATE_RANK.Cancelled });
      const states = stateArrays(report.states);
      if (states.states.length > 0) await query(client, POSTGRES_MESSAGES_SQL.recordStates, { ...key, ...states });
      if (options?.hashFinal) await hashFinal(client, deviceId, report.id);
      return true;
    });
  }

  async applyStateReports(
    deviceId: string,
    reports: readonly { report: StateReport; options?: ReportOptions }[],
    now: number,
  ): Promise<number> {
    let applied = 0;
    for (const { report, options } of reports)
      if (await this.applyStateReport(deviceId, report, now, options)) applied++;
    return applied;
  }

  async hashIfFinal(deviceId: string, id: string): Promise<boolean> {
    return inTransaction(this.pool, (client) => hashFinal(client, deviceId, id));
  }

  async purgeExpired(userId: string, cutoff: number, limit: number): Promise<number> {
    return (await query(this.pool, MESSAGES_SQL.purgeExpired, { userId, cutoff, limit })).rowCount ?? 0;
  }

  async markCancelling(userId: string, id: string, now: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const marked = await query(client, MESSAGES_SQL.markCancelling, { userId, id, now });
      if (marked.rowCount === 0) return false;
      await query(client, POSTGRES_MESSAGES_SQL.recordStates, { userId, id, states: ['Cancelling'], times: [now] });
      return true;
    });
  }
}
