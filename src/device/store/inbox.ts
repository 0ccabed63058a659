import type { Db } from './database.ts';

export type InboxType = 'SMS' | 'DATA_SMS' | 'MMS' | 'MMS_DOWNLOADED';

export interface InboxAttachment {
  partId: number;
  contentType: string;
  name: string | null;
  data: Buffer;
}

/** What an MMS notification leaves to download: the parts the virtual MMSC holds for it. */
export interface MmsContent {
  subject: string | null;
  body: string | null;
  attachments: { contentType: string; name: string | null; data: string /* base64 */ }[];
}

export interface NewInboxMessage {
  type: InboxType;
  messageId: string;
  sender: string;
  recipient: string | null;
  simNumber: number | null;
  text?: string | null;
  data?: Buffer | null;
  port?: number | null;
  transactionId?: string | null;
  subject?: string | null;
  size?: number | null;
  contentClass?: string | null;
  pendingDownload?: MmsContent | null;
  receivedAt: number;
  attachments?: InboxAttachment[];
}

export interface InboxMessage {
  seq: number;
  id: string;
  type: InboxType;
  messageId: string;
  sender: string;
  recipient: string | null;
  simNumber: number | null;
  text: string | null;
  data: Buffer | null;
  port: number | null;
  transactionId: string | null;
  subject: string | null;
  size: number | null;
  contentClass: string | null;
  pendingDownload: MmsContent | null;
  receivedAt: number;
  attachments: InboxAttachment[];
}

type InboxRow = Omit<InboxMessage, 'attachments' | 'pendingDownload'> & { pendingDownload: string | null };

const INBOX_COLUMNS = `seq, id, type, message_id AS messageId, sender, recipient, sim_number AS simNumber, text, data,
  port, transaction_id AS transactionId, subject, size, content_class AS contentClass,
  pending_download AS pendingDownload, received_at AS receivedAt`;

/**
 * The phone's inbox: every message it received, kept durably. A message and the event it causes are
 * written in one transaction by the caller (`InboxService`), so neither is ever kept without the other.
 */
export class InboxStore {
  private readonly statements;

  constructor(db: Db) {
    this.statements = {
      insert: db.prepare<
        [
          string,
          InboxType,
          string,
          string,
          string | null,
          number | null,
          string | null,
          Buffer | null,
          number | null,
          string | null,
          string | null,
          number | null,
          string | null,
          string | null,
          number,
        ]
      >(
        `INSERT INTO inbox (id, type, message_id, sender, recipient, sim_number, text, data, port, transaction_id,
           subject, size, content_class, pending_download, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertAttachment: db.prepare<[number, number, string, string | null, Buffer]>(
        `INSERT INTO inbox_attachments (inbox_seq, part_id, content_type, name, data) VALUES (?, ?, ?, ?, ?)`,
      ),
      get: db.prepare<[string], InboxRow>(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE id = ?`),
      attachments: db.prepare<[number], InboxAttachment>(
        `SELECT part_id AS partId, content_type AS contentType, name, data
         FROM inbox_attachments WHERE inbox_seq = ? ORDER BY part_id`,
      ),
      pendingDownloads: db.prepare<[], { id: string }>(
        `SELECT id FROM inbox WHERE pending_download IS NOT NULL ORDER BY seq`,
      ),
      // The guard makes a download finish once: a second finish (a duplicate run) changes nothing.
      finishDownload: db.prepare<[string]>(
        `UPDATE inbox SET pending_download = NULL WHERE id = ? AND type = 'MMS' AND pending_download IS NOT NULL`,
      ),
    };
  }

  /** Store a received message (and its MMS parts); call inside the transaction that records its event. */
  insert(id: string, message: NewInboxMessage): void {
    const seq = Number(
      this.statements.insert.run(
        id,
        message.type,
        message.messageId,
        message.sender,
        message.recipient,
        message.simNumber,
        message.text ?? null,
        message.data ?? null,
        message.port ?? null,
        message.transactionId ?? null,
        message.subject ?? null,
        message.size ?? null,
        message.contentClass ?? null,
        message.pendingDownload ? JSON.stringify(message.pendingDownload) : null,
        message.receivedAt,
      ).lastInsertRowid,
    );
    for (const part of message.attachments ?? [])
      this.statements.insertAttachment.run(seq, part.partId, part.contentType, part.name, part.data);
  }

  get(id: string): InboxMessage | undefined {
    const row = this.statements.get.get(id);
    if (!row) return undefined;
    return {
      ...row,
      pendingDownload: row.pendingDownload ? (JSON.parse(row.pendingDownload) as MmsContent) : null,
      attachments: this.statements.attachments.all(row.seq),
    };
  }

  /** MMS notifications whose download has not finished (after a restart, they are downloaded again). */
  pendingDownloadIds(): string[] {
    return this.statements.pendingDownloads.all().map((row) => row.id);
  }

  /** Mark a notification downloaded; false when it already was. Call in the transaction that stores the MMS. */
  finishDownload(id: string): boolean {
    return this.statements.finishDownload.run(id).changes === 1;
  }
}
