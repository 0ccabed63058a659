import type { Db } from './database.ts';
import { StatementCache } from '../../shared/sqlite.ts';

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

/** One part of a received MMS, without its bytes. */
export interface InboxPartInfo {
  partId: number;
  contentType: string;
  name: string | null;
  size: number;
}

/** Which received messages `list` reads: each condition a bound parameter, never spliced text. */
export interface InboxFilter {
  type?: InboxType;
  sender?: string;
  /** received at or after, epoch ms */
  from?: number;
  /** received before, epoch ms */
  to?: number;
}

const INBOX_COLUMNS = `seq, id, type, message_id AS messageId, sender, recipient, sim_number AS simNumber, text, data,
  port, transaction_id AS transactionId, subject, size, content_class AS contentClass,
  pending_download AS pendingDownload, received_at AS receivedAt`;

/**
 * The phone's inbox: every message it received, kept durably. A message and the event it causes are
 * written in one transaction by the caller (`InboxService`), so neither is ever kept without the other.
 */
export class InboxStore {
  private readonly statements;
  private readonly lists: StatementCache;

  constructor(private readonly db: Db) {
    this.lists = new StatementCache(db);
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
      parts: db.prepare<[number], InboxPartInfo>(
        `SELECT part_id AS partId, content_type AS contentType, name, length(data) AS size
           FROM inbox_attachments WHERE inbox_seq = ? ORDER BY part_id`,
      ),
      part: db.prepare<[string, number], InboxAttachment>(
        `SELECT a.part_id AS partId, a.content_type AS contentType, a.name, a.data
           FROM inbox_attachments a JOIN inbox i ON i.seq = a.inbox_seq WHERE i.id = ? AND a.part_id = ?`,
      ),
      // an inbox refresh reads its window in pages, oldest first (keyset on seq)
      window: db.prepare<{ since: number; until: number; after: number; limit: number }, InboxRow>(
        `SELECT ${INBOX_COLUMNS} FROM inbox
          WHERE received_at >= :since AND received_at <= :until AND seq > :after
          ORDER BY seq LIMIT :limit`,
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
    return row && this.hydrate(row, this.statements.attachments.all(row.seq));
  }

  /** Newest first, one page, and how many match in all (read in one transaction). */
  list(filter: InboxFilter, page: { limit: number; offset: number }): { items: InboxMessage[]; total: number } {
    const conditions: [keyof InboxFilter, string][] = [
      ['type', 'type = :type'],
      ['sender', 'sender = :sender'],
      ['from', 'received_at >= :from'],
      ['to', 'received_at < :to'],
    ];
    const used = conditions.filter(([key]) => filter[key] !== undefined).map(([, condition]) => condition);
    const where = used.length > 0 ? `WHERE ${used.join(' AND ')}` : '';
    const params = { ...filter, ...page };
    return this.db.transaction(() => {
      const rows = this.lists
        .get<typeof params, InboxRow>(
          `SELECT ${INBOX_COLUMNS} FROM inbox ${where} ORDER BY received_at DESC, seq DESC LIMIT :limit OFFSET :offset`,
        )
        .all(params);
      const { total } = this.lists
        .get<typeof params, { total: number }>(`SELECT count(*) AS total FROM inbox ${where}`)
        .get(params)!;
      return { items: rows.map((row) => this.hydrate(row, [])), total };
    })();
  }

  /** The parts of a received MMS, without their bytes. */
  parts(message: Pick<InboxMessage, 'seq'>): InboxPartInfo[] {
    return this.statements.parts.all(message.seq);
  }

  /** One part of a received message, bytes included. */
  part(id: string, partId: number): InboxAttachment | undefined {
    return this.statements.part.get(id, partId);
  }

  /** Messages received in [since, until], oldest first, `limit` at a time after the seq `after`; parts included. */
  window(since: number, until: number, after: number, limit: number): InboxMessage[] {
    return this.statements.window
      .all({ since, until, after, limit })
      .map((row) => this.hydrate(row, this.statements.attachments.all(row.seq)));
  }

  private hydrate(row: InboxRow, attachments: InboxAttachment[]): InboxMessage {
    return {
      ...row,
      pendingDownload: row.pendingDownload ? (JSON.parse(row.pendingDownload) as MmsContent) : null,
      attachments,
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
