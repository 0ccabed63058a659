import type { Db } from './store/database.ts';
import type { MessageStore, StoredMessage } from './store/messages.ts';
import type { DeviceEvents } from './events.ts';
import type { DeviceSettings } from './settings.ts';
import { requireSim, simPhoneNumber, type OutgoingSms, type SmsCarrier } from './carrier/carrier.ts';
import type { Clock } from '../shared/clock.ts';
import { DUPLICATE_MESSAGE_ID, type MessageState, type ProcessState, type WebhookSource } from '../protocol/index.ts';
import { newId } from '../shared/ids.ts';
import { formatInZone } from './time-format.ts';
import { countSmsParts } from './carrier/sms-parts.ts';
import { ConflictError } from '../shared/errors.ts';

export interface NewMessage {
  id?: string | null;
  text: string;
  phoneNumbers: string[];
  simNumber?: number | null;
  withDeliveryReport?: boolean | null;
  ttlSeconds?: number | null;
  validUntil?: number | null;
  source: WebhookSource;
}

/**
 * The phone's sending side: it hands outgoing messages to the carrier and follows their recipients'
 * states (what arrives is `InboxService`'s). Each recipient's state change
 * and the event it causes commit in one transaction, so an event is never recorded without its
 * state or lost after it. (The server's `MessagesService` is another thing: the 3rdparty
 * messages resource, which hands messages to devices.)
 */
export class SmsService {
  private readonly inProgress = new Set<string>();
  private readonly stateListeners: ((id: string) => void)[] = [];

  constructor(
    private readonly deps: {
      db: Db;
      messages: MessageStore;
      events: DeviceEvents;
      carrier: SmsCarrier;
      settings: DeviceSettings;
      clock: Clock;
      timeZone: string;
      deviceId: () => string;
    },
  ) {
    deps.carrier.onDeliveryReport((report) => {
      const outcome = report.delivered
        ? ({ state: 'Delivered' } as const)
        : ({ state: 'Failed', reason: report.reason ?? 'DELIVERY_FAILED' } as const);
      this.advance(report.messageId, report.position, outcome);
    });
  }

  /** Store a message and hand it to the carrier in the background. */
  enqueue(request: NewMessage): StoredMessage {
    const { clock, carrier, messages } = this.deps;
    requireSim(carrier, request.simNumber);
    const now = clock.now();
    const id = request.id ?? newId();
    const validUntil = request.validUntil ?? (request.ttlSeconds != null ? now + request.ttlSeconds * 1000 : null);
    const inserted = messages.insert({
      id,
      source: request.source,
      text: request.text,
      simNumber: request.simNumber ?? null,
      withDeliveryReport: request.withDeliveryReport ?? true,
      validUntil,
      createdAt: now,
      phoneNumbers: request.phoneNumbers,
    });
    if (!inserted) {
      throw new ConflictError(`${DUPLICATE_MESSAGE_ID}: "${id}" is taken; use another id or omit it`);
    }
    void this.process(id);
    return messages.get(id)!;
  }

  /** After a restart: finish handing over unfinished messages and wait for outstanding reports. */
  resume(): void {
    for (const id of this.deps.messages.unfinishedIds()) void this.process(id);
    const awaiting: OutgoingSms[] = [];
    for (const id of this.deps.messages.awaitingDeliveryReportIds()) {
      const message = this.deps.messages.get(id)!;
      for (const r of message.recipients)
        if (r.state === 'Sent') awaiting.push(this.toSms(message, r.position, r.phoneNumber));
    }
    this.deps.carrier.awaitReports(awaiting);
  }

  get(id: string): StoredMessage | undefined {
    return this.deps.messages.get(id);
  }

  toWire(message: StoredMessage, options: { includeContent?: boolean } = {}): MessageState {
    const { timeZone } = this.deps;
    return {
      id: message.id,
      deviceId: this.deps.deviceId(),
      state: message.state,
      isHashed: false,
      isEncrypted: false,
      recipients: message.recipients.map((r) => ({
        phoneNumber: r.phoneNumber,
        state: r.state,
        ...(r.error ? { error: r.error } : {}),
      })),
      states: Object.fromEntries(
        Object.entries(message.states).map(([state, at]) => [state, formatInZone(at!, timeZone)]),
      ),
      ...(options.includeContent ? { textMessage: { text: message.text } } : {}),
    };
  }

  onStateChange(listener: (id: string) => void): void {
    this.stateListeners.push(listener);
  }

  private async process(id: string): Promise<void> {
    if (this.inProgress.has(id)) return;
    this.inProgress.add(id);
    try {
      const { messages, clock, carrier, settings } = this.deps;
      messages.markProcessed(id, clock.now());
      this.notify(id);
      const message = messages.get(id)!;
      for (const recipient of message.recipients) {
        if (recipient.state !== 'Processed' && recipient.state !== 'Pending') continue;
        if (message.validUntil !== null && clock.now() > message.validUntil) {
          this.advance(id, recipient.position, { state: 'Failed', reason: 'TTL_EXPIRED' });
          continue;
        }
        const outcome = await carrier.send(this.toSms(message, recipient.position, recipient.phoneNumber));
        this.advance(
          id,
          recipient.position,
          outcome.sent ? { state: 'Sent' } : { state: 'Failed', reason: outcome.reason },
        );
        await this.pauseBetweenSends(settings.get().messages);
      }
    } finally {
      this.inProgress.delete(id);
    }
  }

  private async pauseBetweenSends(config: {
    send_interval_min: number | null;
    send_interval_max: number | null;
  }): Promise<void> {
    const min = config.send_interval_min ?? 0;
    const max = Math.max(min, config.send_interval_max ?? min);
    const seconds = min + Math.random() * (max - min);
    if (seconds > 0)
      await new Promise((resolve) => this.deps.clock.setTimeout(() => resolve(undefined), seconds * 1000));
  }

  private toSms(message: StoredMessage, position: number, phoneNumber: string): OutgoingSms {
    return {
      messageId: message.id,
      position,
      phoneNumber,
      text: message.text,
      simNumber: message.simNumber,
      withDeliveryReport: message.withDeliveryReport,
    };
  }

  /** Move a recipient forward and record the matching event, in one transaction. */
  private advance(
    id: string,
    position: number,
    outcome: { state: Extract<ProcessState, 'Sent' | 'Delivered'> } | { state: 'Failed'; reason: string },
  ): void {
    const { db, messages, events, clock, timeZone } = this.deps;
    const message = messages.get(id);
    const recipient = message?.recipients.find((r) => r.position === position);
    if (!message || !recipient) return;
    const now = clock.now();
    const at = formatInZone(now, timeZone);
    // null fields are left out of payloads (undefined is not serialised)
    const common = {
      messageId: id,
      sender: simPhoneNumber(this.deps.carrier, message.simNumber),
      recipient: recipient.phoneNumber,
      simNumber: message.simNumber ?? undefined,
      phoneNumber: recipient.phoneNumber,
    };
    try {
      db.transaction(() => {
        const reason = 'reason' in outcome ? outcome.reason : null;
        if (!messages.advanceRecipient(id, position, outcome.state, reason, now)) return;
        if (outcome.state === 'Sent')
          events.record('sms:sent', { ...common, partsCount: countSmsParts(message.text).parts, sentAt: at });
        else if (outcome.state === 'Delivered') events.record('sms:delivered', { ...common, deliveredAt: at });
        else if ('reason' in outcome) events.record('sms:failed', { ...common, failedAt: at, reason: outcome.reason });
      })();
    } catch (error) {
      events.discardPending();
      throw error;
    }
    events.flush();
    this.notify(id);
  }

  private notify(id: string): void {
    for (const listener of this.stateListeners) listener(id);
  }
}
