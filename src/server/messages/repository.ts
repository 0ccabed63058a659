import type { ProcessState, PullOrder } from '../../protocol/index.ts';
import type { SendOptions } from '../../shared/send-request.ts';

export interface RecipientRecord {
  phoneNumber: string;
  state: ProcessState;
  error: string | null;
}

/** A message sent through the server, addressed to one device, with how it is to be sent (SendOptions). */
export interface MessageRecord extends SendOptions {
  userId: string;
  id: string;
  deviceId: string;
  /** the text, or a data SMS's bytes in base64 (then dataPort is set); its hash once isHashed */
  text: string;
  /** the destination port of a data SMS; null for a text */
  dataPort: number | null;
  /** the content and recipients were replaced by their hashes once the message was final */
  isHashed: boolean;
  state: ProcessState;
  createdAt: number;
  updatedAt: number;
  recipients: RecipientRecord[];
  /** when each state was first reached (Unix ms) */
  states: Partial<Record<ProcessState, number>>;
}

/** A page of a message list, by creation time. */
export interface MessagePage {
  limit: number;
  offset: number;
  /** by creation time; newest first when not given */
  order?: 'asc' | 'desc';
}

export interface MessageFilter {
  deviceId?: string;
  state?: ProcessState;
  /** createdAt >= from (Unix ms) */
  from?: number;
  /** createdAt < to (Unix ms) */
  to?: number;
}

/** A device's report about one message (PATCH /mobile/v1/message). */
export interface StateReport {
  id: string;
  state: ProcessState;
  recipients: { phoneNumber: string; state: ProcessState; error?: string | null }[];
  /** state → when (Unix ms) */
  states: Partial<Record<ProcessState, number>>;
}

export interface ReportOptions {
  /** hash the message in the same transaction when the report made it final (hashIfFinal) */
  hashFinal?: boolean;
}

export interface MessagesRepository {
  /** Insert with its recipients and its Pending time; 'duplicate-id' when the user already has that id. */
  insertMessage(message: MessageRecord): Promise<'inserted' | 'duplicate-id'>;
  getUserMessage(userId: string, id: string): Promise<MessageRecord | undefined>;
  /** newest first */
  listUserMessages(
    userId: string,
    filter: MessageFilter,
    page: MessagePage,
  ): Promise<{ items: MessageRecord[]; total: number }>;
  /** what the device still has to send: its Pending messages, highest priority first, then in `order` */
  listPendingForDevice(deviceId: string, limit: number, order: PullOrder): Promise<MessageRecord[]>;
  /** the device's Cancelling messages, oldest first: the pull tells the device about them again */
  listCancellingForDevice(deviceId: string, limit: number): Promise<MessageRecord[]>;
  /**
   * Apply a device's report to one of that device's messages. The message and each recipient
   * move only forwards (STATE_RANK guard in the WHERE clause), so late or concurrent reports
   * cannot undo a later state; the earliest time reported for each state is kept, whatever
   * order concurrent reports arrive in.
   * A report of Cancelled without recipients (the phone never had the message) cancels every
   * recipient that is not final yet.
   * With `hashFinal`, a message the report made final is hashed in the same transaction
   * (hashIfFinal), so no reader sees it final with its content.
   * Returns false when the device has no message with that id.
   */
  applyStateReport(deviceId: string, report: StateReport, now: number, options?: ReportOptions): Promise<boolean>;
  /**
   * A device's reports of one `PATCH /mobile/v1/message`, each applied as `applyStateReport` does;
   * how many named one of the device's messages. SQLite applies them in one transaction (a commit
   * per report, not per message); PostgreSQL in one each, so a report never holds many rows' locks.
   */
  applyStateReports(
    deviceId: string,
    reports: readonly { report: StateReport; options?: ReportOptions }[],
    now: number,
  ): Promise<number>;
  /**
   * A Pending message becomes Cancelling (and its Cancelling time is recorded); false when it is
   * not Pending any more (a report moved it on meanwhile) or does not exist.
   */
  markCancelling(userId: string, id: string, now: number): Promise<boolean>;
  /**
   * Replace a final (Delivered, Failed, Cancelled), unencrypted message's content and recipients by
   * their hashes (`hashing.ts`) and mark it isHashed; nothing for any other message.
   */
  hashIfFinal(deviceId: string, id: string): Promise<boolean>;
  /**
   * Remove up to `limit` of the user's final messages (Delivered, Failed, Cancelled) last changed
   * before `cutoff` (Unix ms), with their recipients and state times; returns how many went.
   */
  purgeExpired(userId: string, cutoff: number, limit: number): Promise<number>;
}
