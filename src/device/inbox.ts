import type { Db } from './store/database.ts';
import type { InboxMessage, InboxStore, MmsContent, NewInboxMessage } from './store/inbox.ts';
import type { DeviceEvents, EmittedEvent } from './events.ts';
import { simPhoneNumber, type IncomingMessage, type ReceivedMessage, type SmsCarrier } from './carrier/carrier.ts';
import type { Clock } from '../shared/clock.ts';
import type { EventName, EventPayload, MmsAttachment } from '../protocol/index.ts';
import { contentDigest, newOrderedId } from '../shared/ids.ts';
import { formatInZone } from './time-format.ts';
import { inTransaction } from '../shared/sqlite.ts';
import { GroupCommit } from '../shared/group-commit.ts';

/**
 * The phone's receiving side: what the carrier delivers goes into the inbox and becomes its event
 * (`sms:received`, `sms:data-received`, `mms:received`), both in one transaction, so a message is
 * never kept without its event or announced without being kept. An MMS notification is then
 * downloaded (`mms:downloaded`); a download cut short by a restart runs again at the next start.
 */
export class InboxService {
  private readonly downloading = new Set<string>();
  /** messages that arrive in the same turn commit together (see `GroupCommit`) */
  private readonly arrivals: GroupCommit;

  constructor(
    private readonly deps: {
      db: Db;
      inbox: InboxStore;
      events: DeviceEvents;
      carrier: SmsCarrier;
      clock: Clock;
      timeZone: string;
    },
  ) {
    this.arrivals = new GroupCommit(deps.db, {
      committed: () => deps.events.flush(),
      rolledBack: () => deps.events.discardPending(),
    });
    deps.carrier.onIncoming((message) => this.receive(message));
  }

  /** After a restart: download the MMS whose download had not finished. */
  resume(): void {
    for (const id of this.deps.inbox.pendingDownloadIds()) this.startDownload(id);
  }

  /**
   * A message arrived: the carrier calls this (see `VirtualCarrier.receive`). Resolves once the
   * message and its event are committed.
   */
  private async receive(message: IncomingMessage): Promise<ReceivedMessage> {
    const { carrier, clock, timeZone } = this.deps;
    const now = clock.now();
    const receivedAt = formatInZone(now, timeZone);
    const recipient = simPhoneNumber(carrier, message.simNumber) ?? null;
    // null fields are left out of payloads (undefined is not serialised)
    const ends = {
      sender: message.from,
      recipient: recipient ?? undefined,
      simNumber: message.simNumber ?? undefined,
      phoneNumber: message.from,
    };
    // Each kind's record is written out field by field: on Node 20 an object that starts with a spread
    // (`{ ...common, type }`) outlives young-generation collections, and one per SMS made each
    // collection copy ~1 MB, 4-6 ms with the loop stopped (BENCHMARKS.md, latency).
    const sender = message.from;
    const simNumber = message.simNumber;
    const id = newOrderedId();

    if (message.type === 'DATA_SMS') {
      const data = message.data.toString('base64');
      const messageId = contentDigest(data);
      const emitted = await this.store(
        id,
        {
          type: 'DATA_SMS',
          messageId,
          sender,
          recipient,
          simNumber,
          receivedAt: now,
          data: message.data,
          port: message.port,
        },
        'sms:data-received',
        { messageId, ...ends, data, receivedAt },
      );
      return { inboxId: id, eventId: emitted.eventId, deliveryIds: emitted.deliveryIds };
    }

    if (message.type === 'MMS') {
      const { content, transactionId } = message;
      const size = mmsSize(content);
      const emitted = await this.store(
        id,
        {
          type: 'MMS',
          messageId: transactionId,
          sender,
          recipient,
          simNumber,
          receivedAt: now,
          transactionId,
          subject: content.subject,
          size,
          contentClass: message.contentClass,
          pendingDownload: content,
        },
        'mms:received',
        {
          messageId: transactionId,
          ...ends,
          transactionId,
          subject: content.subject ?? undefined,
          size,
          contentClass: message.contentClass ?? undefined,
          receivedAt,
        },
      );
      this.startDownload(id);
      return { inboxId: id, eventId: emitted.eventId, deliveryIds: emitted.deliveryIds };
    }

    const messageId = contentDigest(message.text);
    const stored: NewInboxMessage = {
      type: 'SMS',
      messageId,
      sender,
      recipient,
      simNumber,
      receivedAt: now,
      text: message.text,
    };
    const emitted = await this.store(id, stored, 'sms:received', {
      messageId,
      ...ends,
      message: message.text,
      receivedAt,
    });
    return { inboxId: id, eventId: emitted.eventId, deliveryIds: emitted.deliveryIds };
  }

  private startDownload(id: string): void {
    // A download that fails stays pending in the inbox: the next start downloads it again.
    this.download(id).catch(() => {});
  }

  /** Download an announced MMS, store it with its parts and record `mms:downloaded`, in one transaction. */
  private async download(notificationId: string): Promise<void> {
    if (this.downloading.has(notificationId)) return;
    this.downloading.add(notificationId);
    try {
      const { inbox, carrier, clock, timeZone, db, events } = this.deps;
      const notification = inbox.get(notificationId);
      if (!notification?.pendingDownload || !notification.transactionId) return;
      const content = await carrier.downloadMms(notification.transactionId, notification.pendingDownload);
      const now = clock.now();
      const id = newOrderedId();
      const attachments = content.attachments.map((part, index) => ({
        partId: index + 1,
        contentType: part.contentType,
        name: part.name,
        data: Buffer.from(part.data, 'base64'),
      }));
      const payloadAttachments: MmsAttachment[] = attachments.map((part) => ({
        partId: part.partId,
        contentType: part.contentType,
        name: part.name ?? undefined,
        size: part.data.length,
        data: part.data.toString('base64'),
      }));
      try {
        inTransaction(db, () => {
          if (!inbox.finishDownload(notificationId)) return;
          inbox.insert(id, {
            type: 'MMS_DOWNLOADED',
            messageId: id,
            sender: notification.sender,
            recipient: notification.recipient,
            simNumber: notification.simNumber,
            text: content.body,
            transactionId: notification.transactionId,
            subject: content.subject,
            size: mmsSize(content),
            receivedAt: now,
            attachments,
          });
          events.record('mms:downloaded', {
            messageId: id,
            sender: notification.sender,
            recipient: notification.recipient ?? undefined,
            simNumber: notification.simNumber ?? undefined,
            phoneNumber: notification.sender,
            body: content.body ?? undefined,
            subject: content.subject ?? undefined,
            attachments: payloadAttachments,
            receivedAt: formatInZone(now, timeZone),
          });
        });
      } catch (error) {
        events.discardPending();
        throw error;
      }
      events.flush();
    } finally {
      this.downloading.delete(notificationId);
    }
  }

  private store<E extends EventName>(
    id: string,
    message: NewInboxMessage,
    event: E,
    payload: EventPayload<E>,
  ): Promise<EmittedEvent> {
    const { inbox, events } = this.deps;
    return this.arrivals.run(() => {
      inbox.insert(id, message);
      return events.record(event, payload);
    });
  }
}

/** The size an MMS notification announces: its text and parts, in bytes. */
function mmsSize(content: MmsContent): number {
  let size = Buffer.byteLength(content.subject ?? '') + Buffer.byteLength(content.body ?? '');
  for (const part of content.attachments) size += Buffer.byteLength(part.data, 'base64');
  return size;
}

/** A received message's event and payload, as the phone announced it. */
export interface Announcement {
  event: EventName;
  payload: unknown;
}

/**
 * The event a kept message was announced with, built again from the inbox (an inbox refresh sends
 * it again): the same payload `receive` and the download recorded, field for field.
 */
export function announcementOf(message: InboxMessage, timeZone: string): Announcement {
  const receivedAt = formatInZone(message.receivedAt, timeZone);
  const ends = {
    sender: message.sender,
    recipient: message.recipient ?? undefined,
    simNumber: message.simNumber ?? undefined,
    phoneNumber: message.sender,
  };
  switch (message.type) {
    case 'SMS':
      return {
        event: 'sms:received',
        payload: { messageId: message.messageId, ...ends, message: message.text ?? '', receivedAt },
      };
    case 'DATA_SMS':
      return {
        event: 'sms:data-received',
        payload: { messageId: message.messageId, ...ends, data: message.data?.toString('base64') ?? '', receivedAt },
      };
    case 'MMS':
      return {
        event: 'mms:received',
        payload: {
          messageId: message.messageId,
          ...ends,
          transactionId: message.transactionId ?? message.messageId,
          subject: message.subject ?? undefined,
          size: message.size ?? 0,
          contentClass: message.contentClass ?? undefined,
          receivedAt,
        },
      };
    case 'MMS_DOWNLOADED':
      return {
        event: 'mms:downloaded',
        payload: {
          messageId: message.messageId,
          ...ends,
          body: message.text ?? undefined,
          subject: message.subject ?? undefined,
          attachments: message.attachments.map((part) => ({
            partId: part.partId,
            contentType: part.contentType,
            name: part.name ?? undefined,
            size: part.data.length,
            data: part.data.toString('base64'),
          })),
          receivedAt,
        },
      };
  }
}
