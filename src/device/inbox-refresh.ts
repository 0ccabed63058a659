import type { Db } from './store/database.ts';
import type { InboxMessage, InboxStore } from './store/inbox.ts';
import type { DeviceEvents } from './events.ts';
import {
  INCOMING_MESSAGE_TYPES,
  parseIsoDateTime,
  refreshDelivery,
  WEBHOOK_DELIVERY_MODES,
  type EventName,
  type IncomingMessageType,
  type WebhookDelivery,
} from '../protocol/index.ts';
import { announcementOf, type Announcement } from './inbox.ts';

/** Messages read per page of the window; each page's events commit in one transaction. */
const PAGE = 200;
/** A batch event carries at most this many messages, and at most about this many bytes of them. */
export const BATCH_MAX_MESSAGES = 100;
export const BATCH_MAX_BYTES = 256 * 1024;

const BATCH_EVENTS = {
  'sms:received': 'sms:batch:received',
  'sms:data-received': 'sms:batch:data-received',
  'mms:received': 'mms:batch:received',
  'mms:downloaded': 'mms:batch:downloaded',
} as const satisfies Partial<Record<EventName, EventName>>;

export interface InboxRefresh {
  /** epoch ms, both ends included */
  since: number;
  until: number;
  types: readonly IncomingMessageType[];
  webhookDelivery: WebhookDelivery;
}

export interface RefreshOutcome {
  /** received messages in the window, of the types asked for */
  messages: number;
  /** events recorded (none when Disabled) */
  events: number;
}

/**
 * An inbox refresh: what the phone received in a window is announced again, as new events through
 * the outbox (so signed, retried and logged like any other): one per message (Individual), a few
 * `*:batch:*` events (Batch), or none (Disabled: the inbox is already up to date, nothing to send).
 */
export class InboxReplay {
  constructor(private readonly deps: { db: Db; inbox: InboxStore; events: DeviceEvents; timeZone: string }) {}

  async refresh(request: InboxRefresh): Promise<RefreshOutcome> {
    const { db, inbox, events, timeZone } = this.deps;
    const outcome: RefreshOutcome = { messages: 0, events: 0 };
    for (let after = 0; ;) {
      const page = inbox.window(request.since, request.until, after, PAGE);
      if (page.length === 0) return outcome;
      after = page[page.length - 1].seq;
      const chosen = page.filter((message) => request.types.includes(message.type));
      outcome.messages += chosen.length;
      if (request.webhookDelivery !== 'Disabled' && chosen.length > 0) {
        const announcements = chosen.map((message: InboxMessage) => announcementOf(message, timeZone));
        try {
          db.transaction(() => {
            if (request.webhookDelivery === 'Individual') {
              for (const { event, payload } of announcements) events.record(event, payload as never);
              outcome.events += announcements.length;
            } else {
              for (const [event, payloads] of batches(announcements)) {
                events.record(event, { messages: payloads } as never);
                outcome.events++;
              }
            }
          })();
        } catch (error) {
          events.discardPending();
          throw error;
        }
        events.flush();
      }
      // a long window is replayed a page at a time, leaving the event loop to the API and the dispatcher
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** The announcements of a page as batch events: grouped by event, in order, cut by count and size. */
function batches(announcements: Announcement[]): [EventName, unknown[]][] {
  const out: [EventName, unknown[]][] = [];
  const open = new Map<EventName, { payloads: unknown[]; bytes: number }>();
  for (const { event, payload } of announcements) {
    const batchEvent = BATCH_EVENTS[event as keyof typeof BATCH_EVENTS];
    if (!batchEvent) continue;
    const bytes = JSON.stringify(payload).length;
    let current = open.get(batchEvent);
    if (current && (current.payloads.length >= BATCH_MAX_MESSAGES || current.bytes + bytes > BATCH_MAX_BYTES)) {
      current = undefined;
    }
    if (!current) {
      current = { payloads: [], bytes: 0 };
      open.set(batchEvent, current);
      out.push([batchEvent, current.payloads]);
    }
    current.payloads.push(payload);
    current.bytes += bytes;
  }
  return out;
}

/** The request a `MessagesExportRequested` push carries, read; or why it cannot be. */
export function parseExportRequest(data: {
  since: string;
  until: string;
  messageTypes?: string;
  webhookDelivery?: string;
  triggerWebhooks?: string;
}): InboxRefresh | string {
  const since = parseIsoDateTime(data.since);
  const until = parseIsoDateTime(data.until);
  if (since === undefined || until === undefined || since > until) return `no window in ${data.since}..${data.until}`;
  let types: string[] = ['SMS'];
  if (data.messageTypes) {
    const text = data.messageTypes.trim();
    try {
      types = text.startsWith('[') ? (JSON.parse(text) as string[]) : text.split(',').map((t) => t.trim());
    } catch {
      return `messageTypes is not a list: ${text}`;
    }
  }
  if (!Array.isArray(types) || !types.every((t) => (INCOMING_MESSAGE_TYPES as readonly string[]).includes(t)))
    return `unknown messageTypes: ${data.messageTypes}`;
  const mode = data.webhookDelivery;
  if (mode !== undefined && !(WEBHOOK_DELIVERY_MODES as readonly string[]).includes(mode))
    return `unknown webhookDelivery: ${mode}`;
  const webhookDelivery = refreshDelivery(
    {
      webhookDelivery: mode as WebhookDelivery | undefined,
      triggerWebhooks: data.triggerWebhooks === undefined ? undefined : data.triggerWebhooks === 'true',
    },
    'Disabled',
  );
  return { since, until, types: types as IncomingMessageType[], webhookDelivery };
}
