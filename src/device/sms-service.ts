import type { Db } from './store/database.ts';
import type { MessageStore, StoredMessage } from './store/messages.ts';
import type { DeviceEvents } from './events.ts';
import type { DeviceSettings } from './settings.ts';
import { requireSim, simPhoneNumber, type OutgoingSms, type SmsCarrier } from './carrier/carrier.ts';
import type { Clock } from '../shared/clock.ts';
import {
  DUPLICATE_MESSAGE_ID,
  notPendingMessage,
  type MessageState,
  type SimSelectionMode,
  type StoredSettings,
  type WebhookSource,
} from '../protocol/index.ts';
import { newId } from '../shared/ids.ts';
import { formatInZone } from './time-format.ts';
import { countSmsParts } from './carrier/sms-parts.ts';
import { ConflictError, NotFoundError } from '../shared/errors.ts';
import { decryptField, DecryptionError } from './encryption.ts';
import { EXPEDITED_PRIORITY, limitReleaseAt, nextWorkHoursStart, sendIntervalMs } from './send-pacing.ts';

import { contentOfStored, storedContent, type SendRequest } from '../shared/send-request.ts';
import { inTransaction } from '../shared/sqlite.ts';

type MessagesSettings = StoredSettings['messages'];

/** How long the send queue rests after an error (a full disk) before it tries again, ms. */
const QUEUE_RETRY_MS = 5000;

/** The reason of a message that was not sent before its `validUntil` (the app's words). */
export const TTL_EXPIRED = 'TTL expired';

/** A message to store: a checked send request (parseSendRequest) and where it came from. */
export type NewMessage = Pick<
  SendRequest,
  | 'id'
  | 'content'
  | 'phoneNumbers'
  | 'simNumber'
  | 'withDeliveryReport'
  | 'validUntil'
  | 'scheduleAt'
  | 'priority'
  | 'isEncrypted'
> & { source: WebhookSource };

/**
 * The phone's sending side: it hands outgoing messages to the carrier and follows their recipients'
 * states (what arrives is `InboxService`'s). Each recipient's state change
 * and the event it causes commit in one transaction, so an event is never recorded without its
 * state or lost after it. (The server's `MessagesService` is another thing: the 3rdparty
 * messages resource, which hands messages to devices.)
 */
export class SmsService {
  private readonly stateListeners: ((id: string) => void)[] = [];
  private running = false;
  private stopped = false;
  /** ends the send queue's current wait early */
  private sleeper: (() => void) | undefined;
  /** the send interval after the previous message runs until then */
  private pauseUntil = 0;
  /** the priority of the message handed to the carrier last */
  private previousPriority = -128;
  /** the timer that starts the queue again after an error */
  private retry: unknown;

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
      /** the send queue stopped on an error (a full disk): it is told here and tries again a little later */
      onError?: (error: unknown) => void;
    },
  ) {
    deps.settings.onChange(() => this.wake());
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
    const inserted = messages.insert({
      id,
      source: request.source,
      ...storedContent(request.content),
      simNumber: request.simNumber,
      withDeliveryReport: request.withDeliveryReport,
      validUntil: request.validUntil,
      scheduleAt: request.scheduleAt,
      priority: request.priority,
      isEncrypted: request.isEncrypted,
      createdAt: now,
      phoneNumbers: request.phoneNumbers,
    });
    if (!inserted) {
      throw new ConflictError(`${DUPLICATE_MESSAGE_ID}: "${id}" is taken; use another id or omit it`);
    }
    this.wake();
    return messages.get(id)!;
  }

  /**
   * Cancel a message the send queue has not taken yet (Pending): every recipient becomes Cancelled
   * with its `sms:cancelled`, in one transaction. A message the queue has taken (Processed or later)
   * is on its way and cannot be cancelled (409); the queue takes a message in the same synchronous
   * step that marks it Processed, so a cancel and a send never both happen.
   */
  cancel(id: string): StoredMessage {
    const { db, messages, events, clock, timeZone } = this.deps;
    const message = messages.get(id);
    if (!message) throw new NotFoundError(`no message with id "${id}" on this device`);
    if (message.state !== 'Pending') throw new ConflictError(notPendingMessage(id, message.state));
    const now = clock.now();
    const cancelledAt = formatInZone(now, timeZone);
    try {
      inTransaction(db, () => {
        for (const recipient of message.recipients) {
          if (!messages.advanceRecipient(id, recipient.position, 'Cancelled', null, now)) continue;
          events.record('sms:cancelled', Object.assign(this.eventCommon(message, recipient), { cancelledAt }));
        }
      });
    } catch (error) {
      events.discardPending();
      throw error;
    }
    events.flush();
    this.notify(id);
    this.wake();
    return messages.get(id)!;
  }

  /** Let the send queue look again: a message came, or settings changed while it waited. */
  wake(): void {
    if (this.stopped) return;
    if (this.sleeper) this.sleeper();
    else
      this.run().catch((error) => {
        this.deps.onError?.(error);
        if (this.retry === undefined && !this.stopped) {
          this.retry = this.deps.clock.setTimeout(() => {
            this.retry = undefined;
            this.wake();
          }, QUEUE_RETRY_MS);
        }
      });
  }

  /** Stop taking messages (the device is stopping); a wait in progress ends. */
  stop(): void {
    this.stopped = true;
    this.sleeper?.();
    if (this.retry !== undefined) this.deps.clock.clearTimeout(this.retry);
  }

  /** After a restart: finish handing over unfinished messages and wait for outstanding reports. */
  resume(): void {
    this.wake();
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
      isEncrypted: message.isEncrypted,
      recipients: message.recipients.map((r) => ({
        phoneNumber: r.phoneNumber,
        state: r.state,
        ...(r.error ? { error: r.error } : {}),
      })),
      states: Object.fromEntries(
        Object.entries(message.states).map(([state, at]) => [state, formatInZone(at!, timeZone)]),
      ),
      ...(options.includeContent ? contentOfStored(message) : {}),
    };
  }

  onStateChange(listener: (id: string) => void): void {
    this.stateListeners.push(listener);
  }

  /**
   * The send queue: one message at a time, as the app's send worker does. It takes the next message
   * due (`scheduleAt` passed; `processing_order`, higher `priority` first), waits while the work hours are closed, the send
   * interval after the previous message runs or the rate limit is reached, then hands every
   * recipient to the carrier. Enqueueing, a settings change and `stop` wake it from a wait.
   */
  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { messages, clock, settings } = this.deps;
      while (!this.stopped) {
        const config = settings.get().messages;
        const now = clock.now();
        this.failExpired(now);
        const next = messages.nextToSend(config.processing_order, now);
        if (!next) {
          // nothing due: wait for the next scheduled message, if any (an expiry before it fails it then)
          const scheduled = messages.nextScheduledAt(now);
          if (scheduled === null) return;
          await this.sleepUntil(Math.min(scheduled, messages.earliestPendingExpiry() ?? scheduled));
          continue;
        }
        const message = messages.get(next.id)!;
        // a message already handed to the carrier (before a restart) passed the gates then
        if (message.state === 'Pending') {
          const readyAt = this.readyAt(message.priority, config, clock.now());
          if (readyAt !== undefined) {
            // a waiting message that expires meanwhile fails then, not when its turn comes
            await this.sleepUntil(Math.min(readyAt, messages.earliestPendingExpiry() ?? readyAt));
            continue;
          }
        }
        await this.send(message, next.seq, config);
      }
    } finally {
      this.running = false;
    }
  }

  /** Waiting messages whose `validUntil` (or `ttl`) has passed fail, every recipient, with the reason. */
  private failExpired(now: number): void {
    for (const id of this.deps.messages.expiredPendingIds(now)) {
      for (const recipient of this.deps.messages.get(id)!.recipients)
        this.advance(id, recipient.position, { state: 'Failed', reason: TTL_EXPIRED });
    }
  }

  /**
   * When a message of this priority may go, or undefined for now. As in the app, an expedited
   * message (priority ≥ 100) skips the interval and the limit when the message before it had a lower
   * priority, so a run of them is paced again from the second on.
   */
  private readyAt(priority: number, config: MessagesSettings, now: number): number | undefined {
    const workHours = nextWorkHoursStart(config, now, this.deps.timeZone);
    if (workHours !== undefined) return workHours;
    if (this.expeditedFirst(priority)) return undefined;
    if (this.pauseUntil > now) return this.pauseUntil;
    return limitReleaseAt(config, now, (since) => this.deps.messages.countProcessedSince(since));
  }

  private sleepUntil(at: number): Promise<void> {
    const { clock } = this.deps;
    return new Promise((resolve) => {
      const wake = () => {
        clock.clearTimeout(timer);
        this.sleeper = undefined;
        resolve();
      };
      const timer = clock.setTimeout(wake, at - clock.now());
      this.sleeper = wake;
    });
  }

  /** Hand a message's recipients to the carrier, one after the other. */
  private async send(message: StoredMessage, seq: number, config: MessagesSettings): Promise<void> {
    const { messages, clock, carrier, db } = this.deps;
    const { id } = message;
    if (message.state === 'Pending') {
      const simNumber = message.simNumber ?? this.selectSim(seq, config.sim_selection_mode);
      inTransaction(db, () => {
        if (message.simNumber === null && simNumber !== null) messages.setSimNumber(id, simNumber);
        messages.markProcessed(id, clock.now());
      });
      this.notify(id);
    }
    const unsent = (m: StoredMessage) => m.recipients.filter((r) => r.state === 'Processed' || r.state === 'Pending');
    // an end-to-end encrypted message is decrypted here, just before it goes: only the carrier sees clear text
    const text = await this.clearText(message);
    if ('reason' in text) {
      for (const recipient of unsent(messages.get(id)!)) this.advance(id, recipient.position, text);
      return;
    }
    let handedOver = false;
    for (const recipient of unsent(messages.get(id)!)) {
      const current = messages.get(id)!;
      if (current.validUntil !== null && clock.now() >= current.validUntil) {
        this.advance(id, recipient.position, { state: 'Failed', reason: TTL_EXPIRED });
        continue;
      }
      const phoneNumber = await this.clearPhoneNumber(current, recipient.phoneNumber);
      if (typeof phoneNumber !== 'string') {
        this.advance(id, recipient.position, phoneNumber);
        continue;
      }
      handedOver = true;
      const clear = { ...current, text: text.clear };
      const outcome = await carrier.send(this.toSms(clear, recipient.position, phoneNumber));
      this.advance(
        id,
        recipient.position,
        outcome.sent ? { state: 'Sent', partsCount: partsCount(clear) } : { state: 'Failed', reason: outcome.reason },
      );
    }
    // as in the app, a message that never reached the carrier, or an expedited one that went
    // ahead, leaves no pause behind it
    if (handedOver && !this.expeditedFirst(message.priority)) this.pauseUntil = clock.now() + sendIntervalMs(config);
    if (handedOver) this.previousPriority = message.priority;
  }

  /** The message's text (or data), decrypted when it is end-to-end encrypted; or why it cannot be. */
  private async clearText(message: StoredMessage): Promise<{ clear: string } | { state: 'Failed'; reason: string }> {
    if (!message.isEncrypted) return { clear: message.text };
    try {
      return { clear: await decryptField(message.text, this.deps.settings.get().encryption.passphrase) };
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      return { state: 'Failed', reason: `cannot decrypt the message: ${error.message}` };
    }
  }

  /** A recipient's number, decrypted when the message is end-to-end encrypted; or why it cannot be. */
  private async clearPhoneNumber(
    message: StoredMessage,
    phoneNumber: string,
  ): Promise<string | { state: 'Failed'; reason: string }> {
    if (!message.isEncrypted) return phoneNumber;
    try {
      return await decryptField(phoneNumber, this.deps.settings.get().encryption.passphrase);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      return { state: 'Failed', reason: `cannot decrypt the phone number: ${error.message}` };
    }
  }

  private expeditedFirst(priority: number): boolean {
    return priority >= EXPEDITED_PRIORITY && this.previousPriority < priority;
  }

  /** The SIM for a message that names none (`sim_selection_mode`); null: the phone's default. */
  private selectSim(seq: number, mode: SimSelectionMode): number | null {
    const { simCount } = this.deps.carrier;
    if (mode === 'RoundRobin') return (seq % simCount) + 1;
    if (mode === 'Random') return Math.floor(Math.random() * simCount) + 1;
    return null;
  }

  private toSms(message: StoredMessage, position: number, phoneNumber: string): OutgoingSms {
    return {
      messageId: message.id,
      position,
      phoneNumber,
      content:
        message.dataPort === null
          ? { text: message.text }
          : { data: Buffer.from(message.text, 'base64'), port: message.dataPort },
      simNumber: message.simNumber,
      withDeliveryReport: message.withDeliveryReport,
    };
  }

  /** Move a recipient forward and record the matching event, in one transaction. */
  private advance(
    id: string,
    position: number,
    outcome: { state: 'Sent'; partsCount: number } | { state: 'Delivered' } | { state: 'Failed'; reason: string },
  ): void {
    const { db, messages, events, clock, timeZone } = this.deps;
    const message = messages.get(id);
    const recipient = message?.recipients.find((r) => r.position === position);
    if (!message || !recipient) return;
    const now = clock.now();
    const at = formatInZone(now, timeZone);
    const common = this.eventCommon(message, recipient);
    try {
      inTransaction(db, () => {
        const reason = 'reason' in outcome ? outcome.reason : null;
        if (!messages.advanceRecipient(id, position, outcome.state, reason, now)) return;
        if (outcome.state === 'Sent')
          events.record('sms:sent', Object.assign(common, { partsCount: outcome.partsCount, sentAt: at }));
        else if (outcome.state === 'Delivered')
          events.record('sms:delivered', Object.assign(common, { deliveredAt: at }));
        else if ('reason' in outcome)
          events.record('sms:failed', Object.assign(common, { failedAt: at, reason: outcome.reason }));
      });
    } catch (error) {
      events.discardPending();
      throw error;
    }
    events.flush();
    this.notify(id);
  }

  /**
   * What every outgoing event says of its message and recipient; null fields are left out (undefined
   * is not serialised). A new object each call, which the caller completes with Object.assign: on
   * Node 20 an object literal that starts with a spread (`{ ...common, sentAt }`) outlives
   * young-generation collections, which then take longer (BENCHMARKS.md, latency).
   */
  private eventCommon(message: StoredMessage, recipient: { phoneNumber: string }) {
    return {
      messageId: message.id,
      sender: simPhoneNumber(this.deps.carrier, message.simNumber),
      recipient: recipient.phoneNumber,
      simNumber: message.simNumber ?? undefined,
      phoneNumber: recipient.phoneNumber,
    };
  }

  private notify(id: string): void {
    for (const listener of this.stateListeners) listener(id);
  }
}

/** How many SMS a message takes on the air: a text as a phone segments it, a data SMS always one. */
const partsCount = (message: StoredMessage): number =>
  message.dataPort === null ? countSmsParts(message.text).parts : 1;
