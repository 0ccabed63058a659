import { STATE_RANK, type ProcessState, type PullOrder } from '../../protocol/index.ts';
import { sql, type Sql } from '../store/sql.ts';
import type { MessageFilter, MessagePage, MessageRecord, RecipientRecord } from './repository.ts';

/** A flag as a store binds it: PostgreSQL takes booleans, SQLite (which binds no booleans) 0 or 1. */
type Flag = boolean | 0 | 1;

/** The columns of `messages` each store reads (each adds the recipients and state times its own way). */
export const MESSAGE_COLUMNS =
  'm.user_id, m.id, m.device_id, m.text, m.data_port, m.sim_number, m.with_delivery_report, m.is_encrypted, m.priority, m.valid_until, m.schedule_at, m.is_hashed, m.state, m.created_at, m.updated_at';

/** A `messages` row as MESSAGE_COLUMNS reads it. */
export interface MessageRow {
  user_id: string;
  id: string;
  device_id: string;
  text: string;
  data_port: number | null;
  sim_number: number | null;
  with_delivery_report: Flag;
  is_encrypted: Flag;
  priority: number;
  valid_until: number | null;
  schedule_at: number | null;
  is_hashed: Flag;
  state: string;
  created_at: number;
  updated_at: number;
}

/** The message of a row, with its recipients and state times (each store reads those its own way). */
export const toMessage = (
  row: MessageRow,
  recipients: RecipientRecord[],
  states: MessageRecord['states'],
): MessageRecord => ({
  userId: row.user_id,
  id: row.id,
  deviceId: row.device_id,
  text: row.text,
  dataPort: row.data_port,
  simNumber: row.sim_number,
  withDeliveryReport: Boolean(row.with_delivery_report),
  isEncrypted: Boolean(row.is_encrypted),
  priority: row.priority,
  validUntil: row.valid_until,
  scheduleAt: row.schedule_at,
  isHashed: Boolean(row.is_hashed),
  state: row.state as ProcessState,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  recipients,
  states,
});

/** A message's row as bound: the record without what other tables hold, its flags as the store binds them. */
export type MessageInsert = Omit<
  MessageRecord,
  'withDeliveryReport' | 'isEncrypted' | 'isHashed' | 'recipients' | 'states'
> & { withDeliveryReport: Flag; isEncrypted: Flag; stateRank: number };

/** The message's own row; its recipients and state times are written by each store its own way. */
export const messageInsert = (m: MessageRecord, flag: (value: boolean) => Flag): MessageInsert => ({
  userId: m.userId,
  id: m.id,
  deviceId: m.deviceId,
  text: m.text,
  dataPort: m.dataPort,
  simNumber: m.simNumber,
  withDeliveryReport: flag(m.withDeliveryReport),
  isEncrypted: flag(m.isEncrypted),
  priority: m.priority,
  validUntil: m.validUntil,
  scheduleAt: m.scheduleAt,
  state: m.state,
  stateRank: STATE_RANK[m.state],
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

/**
 * The messages statements both stores write alike. Recipients and state times differ: PostgreSQL
 * writes a message's all in one statement (unnest), SQLite one row at a time.
 */
export const MESSAGES_SQL = {
  insertMessage: sql<MessageInsert>(
    'messages.insert',
    `INSERT INTO messages (user_id, id, device_id, text, data_port, sim_number, with_delivery_report, is_encrypted,
                           priority, valid_until, schedule_at, state, state_rank, created_at, updated_at)
     VALUES (:userId, :id, :deviceId, :text, :dataPort, :simNumber, :withDeliveryReport, :isEncrypted,
             :priority, :validUntil, :scheduleAt, :state, :stateRank, :createdAt, :updatedAt)
     ON CONFLICT (user_id, id) DO NOTHING`,
  ),
  // The message to hash: final, not yet hashed, not encrypted (ciphertext is hashed by nobody).
  finalToHash: sql<{ deviceId: string; id: string; no: Flag }, { user_id: string; text: string }>(
    'messages.final-to-hash',
    `SELECT user_id, text FROM messages
     WHERE device_id = :deviceId AND id = :id AND state_rank = 3 AND is_hashed = :no AND is_encrypted = :no`,
  ),
  hashMessage: sql<{ userId: string; id: string; text: string; yes: Flag }>(
    'messages.hash',
    `UPDATE messages SET text = :text, is_hashed = :yes WHERE user_id = :userId AND id = :id`,
  ),
  recipientsToHash: sql<{ userId: string; id: string }, { position: number; phone_number: string }>(
    'message-recipients.to-hash',
    `SELECT position, phone_number FROM message_recipients WHERE user_id = :userId AND message_id = :id ORDER BY position`,
  ),
  hashRecipient: sql<{ userId: string; id: string; position: number; phoneNumber: string }>(
    'message-recipients.hash',
    `UPDATE message_recipients SET phone_number = :phoneNumber
     WHERE user_id = :userId AND message_id = :id AND position = :position`,
  ),
  markCancelling: sql<{ userId: string; id: string; now: number }>(
    'messages.mark-cancelling',
    `UPDATE messages SET state = 'Cancelling', updated_at = :now
     WHERE user_id = :userId AND id = :id AND state = 'Pending'`,
  ),
  cancelOpenRecipients: sql<{ userId: string; id: string; rank: number }>(
    'message-recipients.cancel-open',
    `UPDATE message_recipients SET state = 'Cancelled', state_rank = :rank
     WHERE user_id = :userId AND message_id = :id AND state_rank < :rank`,
  ),
  // The retention purge: a batch of the user's final messages (Delivered, Failed, Cancelled: rank 3)
  // whose last change is before the cutoff (index messages_final; recipients and state times go
  // with them, ON DELETE CASCADE). The guard is repeated on the rows deleted.
  purgeExpired: sql<{ userId: string; cutoff: number; limit: number }>(
    'messages.purge-expired',
    `DELETE FROM messages
      WHERE user_id = :userId AND id IN (SELECT id FROM messages
                                          WHERE user_id = :userId AND state_rank = 3 AND updated_at < :cutoff
                                          ORDER BY updated_at LIMIT :limit)
        AND state_rank = 3 AND updated_at < :cutoff`,
  ),
  // The rank guard: a report never moves a message backwards.
  advanceMessage: sql<{ userId: string; id: string; state: ProcessState; rank: number; now: number }>(
    'messages.advance',
    `UPDATE messages SET state = :state, state_rank = :rank, updated_at = :now
     WHERE user_id = :userId AND id = :id AND state_rank < :rank`,
  ),
};

export type MessageListParams = { userId: string; limit: number; offset: number } & MessageFilter;

/**
 * The pull's order: priority first, then oldest (fifo) or newest (lifo) first, each served by its
 * own index (messages_pending_fifo, messages_pending_lifo), so a long queue is never sorted.
 */
const PENDING_ORDER: Record<PullOrder, string> = {
  fifo: 'm.priority DESC, m.created_at, m.id',
  lifo: 'm.priority DESC, m.created_at DESC, m.id DESC',
};

const LIST_CONDITIONS: [keyof MessageFilter, string][] = [
  ['deviceId', 'm.device_id = :deviceId'],
  ['state', 'm.state = :state'],
  ['from', 'm.created_at >= :from'],
  ['to', 'm.created_at < :to'],
];

/**
 * The reads of messages, `select` being what a store reads of each (`m` is the messages row): one
 * by id, a device's pull (its Pending ones in either order, its Cancelling ones oldest first), and
 * a page of a user's list.
 */
export const messageReads = (select: string) => ({
  byId: `SELECT ${select} FROM messages m WHERE m.user_id = :userId AND m.id = :id`,
  fifo: `SELECT ${select} FROM messages m WHERE m.device_id = :deviceId AND m.state = 'Pending'
         ORDER BY ${PENDING_ORDER.fifo} LIMIT :limit`,
  lifo: `SELECT ${select} FROM messages m WHERE m.device_id = :deviceId AND m.state = 'Pending'
         ORDER BY ${PENDING_ORDER.lifo} LIMIT :limit`,
  cancelling: `SELECT ${select} FROM messages m WHERE m.device_id = :deviceId AND m.state = 'Cancelling'
               ORDER BY m.created_at LIMIT :limit`,
  /**
   * A list's filter is a fixed set of optional conditions, each a bound parameter, never spliced
   * text. `shape` names the conditions and the order used (one statement per shape); `count` is
   * the statement counting the whole list.
   */
  list(
    filter: MessageFilter,
    order: MessagePage['order'],
  ): { shape: string; text: string; count: Sql<MessageListParams, { total: number }> } {
    const used = LIST_CONDITIONS.filter(([key]) => filter[key] !== undefined);
    const conditions = used.map(([key]) => key).join(',');
    const where = ['m.user_id = :userId', ...used.map(([, condition]) => condition)].join(' AND ');
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    return {
      shape: `${conditions}:${order}`,
      text: `SELECT ${select} FROM messages m WHERE ${where}
       ORDER BY m.created_at ${direction}, m.id ${direction} LIMIT :limit OFFSET :offset`,
      count: sql(`messages.count[${conditions}]`, `SELECT count(*) AS total FROM messages m WHERE ${where}`),
    };
  },
});
