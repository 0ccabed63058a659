import type { Db } from './database.ts';
import { StatementCache, inTransaction } from '../../shared/sqlite.ts';
import {
  aggregateState,
  STATE_RANK,
  type ProcessingOrder,
  type ProcessState,
  type WebhookSource,
} from '../../protocol/index.ts';

export interface StoredRecipient {
  position: number;
  phoneNumber: string;
  state: ProcessState;
  error: string | null;
}

export interface StoredMessage {
  id: string;
  source: WebhookSource;
  /** the text, or a data SMS's bytes in base64 (then dataPort is set) */
  text: string;
  /** the destination port of a data SMS; null for a text */
  dataPort: number | null;
  simNumber: number | null;
  withDeliveryReport: boolean;
  validUntil: number | null;
  /** epoch ms before which the message is held; null = at once */
  scheduleAt: number | null;
  /** -128..127, higher goes first */
  priority: number;
  /** text (or data) and phone numbers are ciphertext, to be decrypted before sending */
  isEncrypted: boolean;
  state: ProcessState;
  /** when the message reached each state, epoch ms */
  states: Partial<Record<ProcessState, number>>;
  createdAt: number;
  recipients: StoredRecipient[];
}

interface MessageRow {
  id: string;
  source: WebhookSource;
  text: string;
  dataPort: number | null;
  simNumber: number | null;
  withDeliveryReport: number;
  validUntil: number | null;
  scheduleAt: number | null;
  priority: number;
  isEncrypted: number;
  state: ProcessState;
  states: string;
  createdAt: number;
}

/** A page of `list`: which messages, in which order. */
export interface MessageListFilter {
  source: WebhookSource;
  state?: ProcessState;
  /** created at or after, epoch ms */
  from?: number;
  /** created before, epoch ms */
  to?: number;
}
export interface MessagePage {
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
}

const MESSAGE_COLUMNS = `id, source, text, data_port AS dataPort, sim_number AS simNumber,
  with_delivery_report AS withDeliveryReport, valid_until AS validUntil, schedule_at AS scheduleAt, priority,
  is_encrypted AS isEncrypted, state, states, created_at AS createdAt`;

/** How many messages `MessageStore.get` keeps as read (the oldest read goes first). */
const RECENT_LIMIT = 256;

/** Outgoing messages and their per-recipient states. States only ever move forward. */
export class MessageStore {
  private readonly statements;
  private readonly lists: StatementCache;
  /**
   * Messages as last read, frozen. One message is read about a dozen times in its life (the send
   * queue, each state's listeners, the link's report) between four writes; every write through
   * this store drops its entry, and a read inside a transaction is not kept (it may roll back).
   * This store is the only writer of these tables.
   */
  private readonly recent = new Map<string, StoredMessage>();

  constructor(private readonly db: Db) {
    this.statements = {
      // a new message is always Pending: every column but its state
      insert: db.prepare<Omit<MessageRow, 'state'>>(
        `INSERT INTO messages (id, source, text, data_port, sim_number, with_delivery_report, valid_until, schedule_at,
                               priority, is_encrypted, state, states, created_at, updated_at)
         VALUES (:id, :source, :text, :dataPort, :simNumber, :withDeliveryReport, :validUntil, :scheduleAt,
                 :priority, :isEncrypted, 'Pending', :states, :createdAt, :createdAt)
         ON CONFLICT (id) DO NOTHING`,
      ),
      insertRecipient: db.prepare<[string, number, string]>(
        `INSERT INTO message_recipients (message_id, position, phone_number, state) VALUES (?, ?, ?, 'Pending')`,
      ),
      get: db.prepare<[string], MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`),
      recipients: db.prepare<[string], StoredRecipient>(
        `SELECT position, phone_number AS phoneNumber, state, error FROM message_recipients WHERE message_id = ? ORDER BY position`,
      ),
      // A message the carrier was handed (Processed) is finished first: it already passed the queue's
      // gates (at most one: the queue sends one at a time). Then the highest priority; then the oldest
      // (FIFO) or the newest (LIFO), each read by walking an index in that order (messages_processed,
      // messages_queue_fifo, messages_queue backwards), never by sorting the queue. A scheduled message waits for its time.
      nextProcessed: db.prepare<[number], { id: string; seq: number }>(
        `SELECT id, rowid AS seq FROM messages
          WHERE state = 'Processed' AND (schedule_at IS NULL OR schedule_at <= ?)
          ORDER BY priority DESC, created_at, rowid LIMIT 1`,
      ),
      nextFifo: db.prepare<[number], { id: string; seq: number }>(
        `SELECT id, rowid AS seq FROM messages
          WHERE state IN ('Pending', 'Processed') AND state = 'Pending' AND (schedule_at IS NULL OR schedule_at <= ?)
          ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT 1`,
      ),
      nextLifo: db.prepare<[number], { id: string; seq: number }>(
        `SELECT id, rowid AS seq FROM messages
          WHERE state IN ('Pending', 'Processed') AND state = 'Pending' AND (schedule_at IS NULL OR schedule_at <= ?)
          ORDER BY priority DESC, created_at DESC, rowid DESC LIMIT 1`,
      ),
      nextScheduled: db.prepare<[number], { at: number | null }>(
        `SELECT min(schedule_at) AS at FROM messages WHERE state = 'Pending' AND schedule_at > ?`,
      ),
      // what messages.limit_value counts: messages handed to the carrier in the period, but for failed ones
      countProcessedSince: db.prepare<[number], { n: number; last: number | null }>(
        `SELECT count(*) AS n, max(processed_at) AS last FROM messages
          WHERE processed_at >= ? AND state NOT IN ('Pending', 'Failed')`,
      ),
      // `validUntil` is the first moment the message may no longer go (a ttl of 0 never goes)
      expiredPending: db.prepare<[number], { id: string }>(
        `SELECT id FROM messages WHERE state = 'Pending' AND valid_until <= ?`,
      ),
      earliestPendingExpiry: db.prepare<[], { at: number | null }>(
        `SELECT min(valid_until) AS at FROM messages WHERE state = 'Pending' AND valid_until IS NOT NULL`,
      ),
      setSimNumber: db.prepare<[number, string]>(`UPDATE messages SET sim_number = ? WHERE id = ?`),
      setProcessedAt: db.prepare<[number, string]>(
        `UPDATE messages SET processed_at = ? WHERE id = ? AND processed_at IS NULL`,
      ),
      awaitingDeliveryReports: db.prepare<[], { id: string }>(
        `SELECT id FROM messages WHERE state = 'Sent' AND with_delivery_report = 1`,
      ),
      // The rank guard keeps a late or duplicate report from moving a recipient backwards.
      advanceRecipient: db.prepare<{
        id: string;
        position: number;
        state: ProcessState;
        error: string | null;
        rank: number;
      }>(
        `UPDATE message_recipients SET state = :state, error = :error
          WHERE message_id = :id AND position = :position
            AND (CASE state WHEN 'Pending' THEN 0 WHEN 'Processed' THEN 1 WHEN 'Sent' THEN 2 ELSE 3 END) < :rank`,
      ),
      markRecipientsProcessed: db.prepare<[string]>(
        `UPDATE message_recipients SET state = 'Processed' WHERE message_id = ? AND state = 'Pending'`,
      ),
      updateState: db.prepare<[ProcessState, string, number, string]>(
        `UPDATE messages SET state = ?, states = ?, updated_at = ?, reported_at = NULL WHERE id = ?`,
      ),
      countFailedSince: db.prepare<[number], { n: number }>(
        `SELECT count(*) AS n FROM messages WHERE state = 'Failed' AND updated_at >= ?`,
      ),
      // INDEXED BY: without statistics the planner takes the index on source, which walks every Cloud message
      unreportedCloud: db.prepare<[number], { id: string; updatedAt: number }>(
        `SELECT id, updated_at AS updatedAt FROM messages INDEXED BY messages_unreported
          WHERE source = 'Cloud' AND reported_at IS NULL ORDER BY updated_at LIMIT ?`,
      ),
      expiredFinal: db.prepare<{ cutoff: number; limit: number }, { id: string }>(
        `SELECT id FROM messages
          WHERE updated_at < :cutoff AND state NOT IN ('Pending', 'Processed', 'Sent')
          LIMIT :limit`,
      ),
      deleteRecipients: db.prepare<[string]>(`DELETE FROM message_recipients WHERE message_id = ?`),
      deleteMessage: db.prepare<[string]>(`DELETE FROM messages WHERE id = ?`),
      // only if the message has not changed since it was read
      markReported: db.prepare<[number, string, number]>(
        `UPDATE messages SET reported_at = ? WHERE id = ? AND updated_at <= ?`,
      ),
    };
    this.lists = new StatementCache(db);
  }

  /**
   * One page of a source's messages by creation time, and how many match in all. The conditions
   * are a fixed set of bound parameters (one statement per combination), never spliced values.
   */
  list(filter: MessageListFilter, page: MessagePage): { items: StoredMessage[]; total: number } {
    const conditions: [keyof MessageListFilter, string][] = [
      ['source', 'source = :source'],
      ['state', 'state = :state'],
      ['from', 'created_at >= :from'],
      ['to', 'created_at < :to'],
    ];
    const where = conditions
      .filter(([key]) => filter[key] !== undefined)
      .map(([, condition]) => condition)
      .join(' AND ');
    const direction = page.order === 'asc' ? 'ASC' : 'DESC';
    const params = { ...filter, limit: page.limit, offset: page.offset };
    return inTransaction(this.db, () => {
      const rows = this.lists
        .get<typeof params, MessageRow>(
          `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE ${where}
            ORDER BY created_at ${direction}, id ${direction} LIMIT :limit OFFSET :offset`,
        )
        .all(params);
      const { total } = this.lists
        .get<typeof params, { total: number }>(`SELECT count(*) AS total FROM messages WHERE ${where}`)
        .get(params)!;
      return { items: rows.map((row) => this.hydrate(row)), total };
    });
  }

  /** False when a message with this id already exists. */
  insert(message: Omit<StoredMessage, 'state' | 'states' | 'recipients'> & { phoneNumbers: string[] }): boolean {
    this.recent.delete(message.id);
    return inTransaction(this.db, () => {
      const inserted = this.statements.insert.run({
        id: message.id,
        source: message.source,
        text: message.text,
        dataPort: message.dataPort,
        simNumber: message.simNumber,
        withDeliveryReport: message.withDeliveryReport ? 1 : 0,
        validUntil: message.validUntil,
        scheduleAt: message.scheduleAt,
        priority: message.priority,
        isEncrypted: message.isEncrypted ? 1 : 0,
        states: JSON.stringify({ Pending: message.createdAt }),
        createdAt: message.createdAt,
      }).changes;
      if (inserted === 0) return false;
      message.phoneNumbers.forEach((phone, position) =>
        this.statements.insertRecipient.run(message.id, position, phone),
      );
      return true;
    });
  }

  /** The message as stored; frozen (it may be shared with other readers). */
  get(id: string): StoredMessage | undefined {
    const kept = this.recent.get(id);
    if (kept) return kept;
    const row = this.statements.get.get(id);
    if (!row) return undefined;
    const message = freeze(this.hydrate(row));
    if (!this.db.inTransaction) {
      this.recent.set(id, message);
      if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value!);
    }
    return message;
  }

  private hydrate(row: MessageRow): StoredMessage {
    return {
      ...row,
      withDeliveryReport: row.withDeliveryReport === 1,
      isEncrypted: row.isEncrypted === 1,
      states: JSON.parse(row.states),
      recipients: this.statements.recipients.all(row.id),
    };
  }

  /**
   * The message the send queue takes next (due at `now`), with its row number (what `RoundRobin` SIM selection
   * counts by), or undefined when nothing is waiting.
   */
  nextToSend(order: ProcessingOrder, now: number): { id: string; seq: number } | undefined {
    return (
      this.statements.nextProcessed.get(now) ??
      (order === 'FIFO' ? this.statements.nextFifo : this.statements.nextLifo).get(now)
    );
  }

  /** When the soonest scheduled message that is not due yet is due, epoch ms. */
  nextScheduledAt(now: number): number | null {
    return this.statements.nextScheduled.get(now)!.at;
  }

  /** How many messages were handed to the carrier since `since` (failed ones aside), and when the last was. */
  countProcessedSince(since: number): { count: number; last: number | null } {
    const { n, last } = this.statements.countProcessedSince.get(since)!;
    return { count: n, last };
  }

  /** Waiting messages whose time to be sent has run out. */
  expiredPendingIds(now: number): string[] {
    return this.statements.expiredPending.all(now).map((r) => r.id);
  }

  /** The soonest `validUntil` of a waiting message, epoch ms. */
  earliestPendingExpiry(): number | null {
    return this.statements.earliestPendingExpiry.get()!.at;
  }

  /** The SIM a message without one was given by the SIM selection mode. */
  setSimNumber(id: string, simNumber: number): void {
    this.recent.delete(id);
    this.statements.setSimNumber.run(simNumber, id);
  }

  /** Sent messages that asked for a delivery report: after a restart, their reports are still awaited. */
  awaitingDeliveryReportIds(): string[] {
    return this.statements.awaitingDeliveryReports.all().map((r) => r.id);
  }

  /**
   * Move one recipient forward and recompute the message. Returns false (and changes nothing)
   * when the recipient is already at or past that state. Call inside the transaction that also
   * records the matching event.
   */
  advanceRecipient(id: string, position: number, state: ProcessState, error: string | null, now: number): boolean {
    this.recent.delete(id);
    const changed = this.statements.advanceRecipient.run({
      id,
      position,
      state,
      error,
      rank: STATE_RANK[state],
    }).changes;
    if (changed === 0) return false;
    this.recompute(id, now);
    return true;
  }

  markProcessed(id: string, now: number): void {
    this.recent.delete(id);
    inTransaction(this.db, () => {
      this.statements.markRecipientsProcessed.run(id);
      this.statements.setProcessedAt.run(now, id);
      this.recompute(id, now);
    });
  }

  private recompute(id: string, now: number): void {
    const message = this.get(id);
    if (!message) return;
    // a recipient cancelled while the message waits does not make it Processed
    const processed = message.recipients.some((r) => r.state !== 'Pending' && r.state !== 'Cancelled');
    const state = aggregateState(message.recipients, processed);
    const states = { ...message.states };
    // Every state passed through gets a time, so states always shows the path taken; and only
    // those: a message that failed before any recipient left the device was never Sent.
    const sent = message.recipients.some((r) => r.state === 'Sent' || r.state === 'Delivered');
    if (processed && states.Processed === undefined) states.Processed = now;
    if (sent && states.Sent === undefined) states.Sent = now;
    if (states[state] === undefined) states[state] = now;
    this.recent.delete(id);
    this.statements.updateState.run(state, JSON.stringify(states), now, id);
  }

  countFailedSince(since: number): number {
    return this.statements.countFailedSince.get(since)!.n;
  }

  /**
   * Delete up to `limit` finished messages (Delivered, Failed, Cancelled) last changed before
   * `cutoff`, with their recipients, in one transaction; how many.
   */
  purgeFinished(cutoff: number, limit: number): number {
    return inTransaction(this.db, () => {
      const ids = this.statements.expiredFinal.all({ cutoff, limit });
      for (const { id } of ids) {
        this.recent.delete(id);
        this.statements.deleteRecipients.run(id);
        this.statements.deleteMessage.run(id);
      }
      return ids.length;
    });
  }

  /** Cloud messages whose latest state the server has not acknowledged, with the version read. */
  unreportedCloud(limit: number): { id: string; updatedAt: number }[] {
    return this.statements.unreportedCloud.all(limit);
  }

  /** Acknowledge a report, in one commit, for each message that has not changed since it was read. */
  markReported(seen: readonly { id: string; updatedAt: number }[], now: number): void {
    inTransaction(this.db, () => {
      for (const { id, updatedAt } of seen) this.statements.markReported.run(now, id, updatedAt);
    });
  }
}

/** A message and what it holds, frozen: a reader that changed it would change it for every other. */
function freeze(message: StoredMessage): StoredMessage {
  for (const recipient of message.recipients) Object.freeze(recipient);
  Object.freeze(message.recipients);
  Object.freeze(message.states);
  return Object.freeze(message);
}
