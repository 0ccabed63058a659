import type { Db } from './database.ts';
import { aggregateState, STATE_RANK, type ProcessState, type WebhookSource } from '../../protocol/index.ts';

export interface StoredRecipient {
  position: number;
  phoneNumber: string;
  state: ProcessState;
  error: string | null;
}

export interface StoredMessage {
  id: string;
  source: WebhookSource;
  text: string;
  simNumber: number | null;
  withDeliveryReport: boolean;
  validUntil: number | null;
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
  simNumber: number | null;
  withDeliveryReport: number;
  validUntil: number | null;
  state: ProcessState;
  states: string;
  createdAt: number;
}

/** Outgoing messages and their per-recipient states. States only ever move forward. */
export class MessageStore {
  private readonly recipientStatement;
  private readonly forwardRecipientStatement;

  constructor(private readonly db: Db) {
    this.recipientStatement = db.prepare(
      `SELECT position, phone_number AS phoneNumber, state, error FROM message_recipients WHERE message_id = ? ORDER BY position`,
    );
    // The rank guard keeps a late or duplicate report from moving a recipient backwards.
    this.forwardRecipientStatement = db.prepare(
      `UPDATE message_recipients SET state = :state, error = :error
        WHERE message_id = :id AND position = :position
          AND (CASE state WHEN 'Pending' THEN 0 WHEN 'Processed' THEN 1 WHEN 'Sent' THEN 2 ELSE 3 END) < :rank`,
    );
  }

  /** False when a message with this id already exists. */
  insert(message: Omit<StoredMessage, 'state' | 'states' | 'recipients'> & { phoneNumbers: string[] }): boolean {
    return this.db.transaction(() => {
      const inserted = this.db
        .prepare(
          `INSERT INTO messages (id, source, text, sim_number, with_delivery_report, valid_until, state, states, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'Pending', ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        )
        .run(
          message.id,
          message.source,
          message.text,
          message.simNumber,
          message.withDeliveryReport ? 1 : 0,
          message.validUntil,
          JSON.stringify({ Pending: message.createdAt }),
          message.createdAt,
          message.createdAt,
        ).changes;
      if (inserted === 0) return false;
      const insertRecipient = this.db.prepare(
        `INSERT INTO message_recipients (message_id, position, phone_number, state) VALUES (?, ?, ?, 'Pending')`,
      );
      message.phoneNumbers.forEach((phone, position) => insertRecipient.run(message.id, position, phone));
      return true;
    })();
  }

  get(id: string): StoredMessage | undefined {
    const row = this.db
      .prepare(
        `SELECT id, source, text, sim_number AS simNumber, with_delivery_report AS withDeliveryReport, valid_until AS validUntil,
                state, states, created_at AS createdAt FROM messages WHERE id = ?`,
      )
      .get(id) as MessageRow | undefined;
    if (!row) return undefined;
    return {
      ...row,
      withDeliveryReport: row.withDeliveryReport === 1,
      states: JSON.parse(row.states),
      recipients: this.recipientStatement.all(id) as StoredRecipient[],
    };
  }

  /** Messages the carrier has not finished handing over: resumed after a restart. */
  unfinishedIds(): string[] {
    return (
      this.db.prepare(`SELECT id FROM messages WHERE state IN ('Pending', 'Processed') ORDER BY created_at`).all() as {
        id: string;
      }[]
    ).map((r) => r.id);
  }

  /**
   * Move one recipient forward and recompute the message. Returns false (and changes nothing)
   * when the recipient is already at or past that state. Call inside the transaction that also
   * records the matching event.
   */
  advanceRecipient(id: string, position: number, state: ProcessState, error: string | null, now: number): boolean {
    const changed = this.forwardRecipientStatement.run({ id, position, state, error, rank: STATE_RANK[state] }).changes;
    if (changed === 0) return false;
    this.recompute(id, now);
    return true;
  }

  markProcessed(id: string, now: number): void {
    this.db.transaction(() => {
      this.db
        .prepare(`UPDATE message_recipients SET state = 'Processed' WHERE message_id = ? AND state = 'Pending'`)
        .run(id);
      this.recompute(id, now);
    })();
  }

  private recompute(id: string, now: number): void {
    const message = this.get(id);
    if (!message) return;
    const processed = message.recipients.some((r) => r.state !== 'Pending');
    const state = aggregateState(message.recipients, processed);
    const states = { ...message.states };
    // Every state passed through gets a time, so states always shows the path taken.
    for (const step of ['Processed', 'Sent'] as const) {
      if (STATE_RANK[state] >= STATE_RANK[step] && states[step] === undefined) states[step] = now;
    }
    if (states[state] === undefined) states[state] = now;
    this.db
      .prepare(`UPDATE messages SET state = ?, states = ?, updated_at = ?, reported_at = NULL WHERE id = ?`)
      .run(state, JSON.stringify(states), now, id);
  }

  countFailedSince(since: number): number {
    return (
      this.db.prepare(`SELECT count(*) AS n FROM messages WHERE state = 'Failed' AND updated_at >= ?`).get(since) as {
        n: number;
      }
    ).n;
  }

  /** Cloud messages whose latest state the server has not acknowledged, with the version read. */
  unreportedCloud(limit: number): { id: string; updatedAt: number }[] {
    return this.db
      .prepare(
        `SELECT id, updated_at AS updatedAt FROM messages WHERE source = 'Cloud' AND reported_at IS NULL ORDER BY updated_at LIMIT ?`,
      )
      .all(limit) as { id: string; updatedAt: number }[];
  }

  /** Acknowledge a report only if the message has not changed since it was read. */
  markReported(id: string, updatedAtSeen: number, now: number): void {
    this.db.prepare(`UPDATE messages SET reported_at = ? WHERE id = ? AND updated_at <= ?`).run(now, id, updatedAtSeen);
  }
}
