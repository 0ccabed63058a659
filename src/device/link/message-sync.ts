import type { Clock } from '../../shared/clock.ts';
import type { SmsService } from '../sms-service.ts';
import type { MessageStore } from '../store/messages.ts';
import { formatInZone } from '../time-format.ts';
import type { MessageReport, MobileClient, MobileMessage } from './mobile-client.ts';
import type { MessageContent } from '../../protocol/index.ts';
import { ConflictError, InvalidInputError } from '../../shared/errors.ts';
import { PULL_LIMIT } from '../../protocol/mobile.ts';
import type { ProcessingOrder } from '../../protocol/settings.ts';

/**
 * How long a state change waits for others to share its report. At a steady rate the reports (one
 * `PATCH` per change otherwise, read, sent and applied one by one) cost the device and the server
 * more than the messages; the server learns of a state this much later.
 */
export const REPORT_BATCH_MS = 20;
/** the most messages one state report carries */
const REPORT_LIMIT = 100;

/**
 * The Cloud messages: pulled from the server (`MessageEnqueued`, and on every (re)connect) and
 * handed to the SMS service; their state changes reported back with `PATCH /mobile/v1/message`.
 */
export class MessageSync {
  private reporting: Promise<void> | undefined;
  private reportAgain = false;
  /** the timer of a report gathering changes (REPORT_BATCH_MS) */
  private reportTimer: unknown;
  private pulling: Promise<void> | undefined;
  private pullAgain = false;
  /** messages pushed while a pull was on its way that no answer has brought yet: they get one more pull */
  private readonly awaited = new Set<string>();
  /** pulls waiting for the next state report read after they asked (reportTaken) */
  private reportWaiters: (() => void)[] = [];
  private stopped = false;
  /** ids the server cancelled before this device had pulled them: a pull already on its way skips them */
  private readonly cancelledUnseen = new Set<string>();

  constructor(
    private readonly deps: {
      client: Pick<MobileClient, 'pullMessages' | 'reportMessages'>;
      sms: Pick<SmsService, 'get' | 'enqueue' | 'toWire' | 'onStateChange' | 'cancel'>;
      messageStore: Pick<MessageStore, 'unreportedCloud' | 'markReported'>;
      clock: Clock;
      timeZone: string;
      log: (line: string) => void;
      /** the device's `messages.processing_order`: which of the server's waiting messages come first */
      order: () => ProcessingOrder;
    },
  ) {}

  start(): void {
    this.deps.sms.onStateChange(() => this.scheduleReport());
  }

  /** Stop reporting; resolves when the report on its way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    // what was gathered stays unreported in the store: the next connect reports it
    if (this.reportTimer !== undefined) this.deps.clock.clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    for (const resolve of this.reportWaiters.splice(0)) resolve();
    await this.reporting;
  }

  /**
   * Take the messages waiting on the server and hand them to the SMS service. One pull runs at a
   * time: the pushes that arrive while it is on its way (one per message sent) are answered by one
   * more pull after it, since it may have read the list before their messages were there; but not
   * when its answer brought every message they named (`id`, the push's data): at a steady rate
   * most of them. A pull per push would hand the same waiting messages out again and again, up to
   * `PULL_LIMIT` each time. Resolves when the pull, and the one it owes, have ended.
   */
  pull(id?: string): Promise<void> {
    if (this.pulling) {
      if (id === undefined) this.pullAgain = true;
      else this.awaited.add(id);
      return this.pulling;
    }
    this.pulling = this.pullWhileAsked().finally(() => (this.pulling = undefined));
    return this.pulling;
  }

  private async pullWhileAsked(): Promise<void> {
    // a pull owes another for a push that named no message, or named one its answers did not bring
    const owed = () => (this.pullAgain || this.awaited.size > 0) && !this.stopped;
    for (;;) {
      // what was pushed before this pull asked is in its answer
      this.pullAgain = false;
      this.awaited.clear();
      try {
        await this.pullAll();
      } catch (error) {
        // a push that came meanwhile still gets its pull, as it would have on its own
        if (!owed()) throw error;
        continue;
      }
      if (!owed()) return;
    }
  }

  /**
   * A full pull (the server hands out at most `PULL_LIMIT`) means more may wait: once the server
   * knows this device has taken them (its state report), the device pulls again, without waiting
   * for the next push. It stops when a pull is not full, or brings nothing new (a report that did
   * not get through).
   */
  private async pullAll(): Promise<void> {
    while (!this.stopped) {
      const { received, taken } = await this.pullOnce();
      if (received < PULL_LIMIT || taken === 0) return;
      await this.reportTaken();
    }
  }

  /**
   * One pull. A message this device cannot send (a SIM it does not have, an id its Local API
   * already used) is reported Failed with the reason at once: left Pending, it would be handed out
   * again forever, and enough of them would fill every pull and hold back the messages behind them.
   */
  private async pullOnce(): Promise<{ received: number; taken: number }> {
    const { client } = this.deps;
    const pending = await client.pullMessages(this.deps.order() === 'FIFO' ? 'fifo' : 'lifo');
    for (const message of pending) this.awaited.delete(message.id);
    const refused: MessageReport[] = [];
    let taken = 0;
    for (const message of pending) if (await this.takeOne(message, refused)) taken++;
    this.scheduleReport();
    // If this report is lost, the messages are still Pending on the server: the next pull hands
    // them out again and they are refused and reported again.
    if (refused.length > 0) await client.reportMessages(refused);
    return { received: pending.length, taken };
  }

  /**
   * A message the server pushed with its content (`MessageEnqueued`): taken as a pull would take it,
   * without the pull's round trip. One that cannot be taken now (a disk error) is pulled instead,
   * which tries it again.
   */
  async takePushed(message: MobileMessage): Promise<void> {
    if (this.stopped) return;
    const refused: MessageReport[] = [];
    try {
      await this.takeOne(message, refused);
    } catch {
      return this.pull(message.id);
    }
    this.scheduleReport();
    if (refused.length > 0) await this.deps.client.reportMessages(refused);
  }

  /**
   * Hand one message the server gave out (pulled or pushed) to the SMS service. False when it was
   * not new here: already taken (its state report is on its way), or cancelled. One this device
   * refuses goes into `refused`, to be reported Failed.
   */
  private async takeOne(message: MobileMessage, refused: MessageReport[]): Promise<boolean> {
    const { sms, clock, timeZone, log } = this.deps;
    // cancelled on the server while this device was away (or the push was lost): as the push does
    if (message.state === 'Cancelling') {
      await this.cancel(message.id);
      return false;
    }
    if (this.cancelledUnseen.has(message.id)) return false;
    const known = sms.get(message.id);
    if (known?.source === 'Cloud') return false; // already taken, its state report is on its way
    const refuse = (reason: string) => {
      log(`message ${message.id} refused: ${reason}`);
      refused.push(failedReport(message.id, message.phoneNumbers, reason, formatInZone(clock.now(), timeZone)));
    };
    if (known) {
      refuse(
        `this device already has a message with id "${message.id}" (sent through its Local API); send it again with another id`,
      );
      return true;
    }
    try {
      sms.enqueue({
        id: message.id,
        content: mobileContent(message),
        phoneNumbers: message.phoneNumbers,
        simNumber: message.simNumber,
        withDeliveryReport: message.withDeliveryReport,
        validUntil: message.validUntil ? Date.parse(message.validUntil) : null,
        scheduleAt: message.scheduleAt ? Date.parse(message.scheduleAt) : null,
        priority: message.priority,
        isEncrypted: message.isEncrypted,
        source: 'Cloud',
      });
    } catch (error) {
      // what the device refuses to send (no such SIM, an id taken); anything else (a disk
      // error) fails this pull (or push), and a pull tries the message again
      if (!(error instanceof InvalidInputError || error instanceof ConflictError)) throw error;
      refuse(error.message);
    }
    return true;
  }

  /**
   * Report what changed, and wait until the first report read after this call has been answered.
   * The oldest changes go first, so it carries what the pull took unless more than 100 older ones
   * waited (the next pull then takes only what is new to it). Not until no report is on its way:
   * while the device sends, its messages change all the time, reporting never stops, and the next
   * pull would wait until the whole queue had been sent.
   */
  private reportTaken(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      this.reportWaiters.push(resolve);
      this.scheduleReport({ now: true });
    });
  }

  /**
   * The server cancelled a message (`MessageCancelled`). One still waiting here is cancelled (its
   * Cancelled state is reported like any change); one already on its way is not, and the state it
   * reached tells the server so. One this device never pulled is reported Cancelled at once.
   */
  async cancel(id: string): Promise<void> {
    const { client, sms, clock, timeZone, log } = this.deps;
    const message = sms.get(id);
    if (!message) {
      this.cancelledUnseen.add(id);
      await client.reportMessages([
        { id, state: 'Cancelled', recipients: [], states: { Cancelled: formatInZone(clock.now(), timeZone) } },
      ]);
      return;
    }
    if (message.source !== 'Cloud') return log(`MessageCancelled: "${id}" is a Local API message here; not cancelled`);
    try {
      sms.cancel(id);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      log(`MessageCancelled: ${error.message}`);
      this.scheduleReport();
    }
  }

  /**
   * Report Cloud messages whose state changed, `REPORT_BATCH_MS` after the first change, so that one
   * report carries the changes of that time (a message taken, sent and delivered meanwhile is one
   * item, not three reports). One report runs at a time; changes made while it is on its way get the
   * next. `now`: no gathering (a pull waits for its report).
   */
  scheduleReport(options: { now?: boolean } = {}): void {
    if (this.stopped) return;
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    if (!options.now) {
      this.reportTimer ??= this.deps.clock.setTimeout(() => {
        this.reportTimer = undefined;
        this.scheduleReport({ now: true });
      }, REPORT_BATCH_MS);
      return;
    }
    if (this.reportTimer !== undefined) this.deps.clock.clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    this.reporting = this.reportChanged()
      .catch((error) => this.deps.log(`state report failed (kept for the next one): ${error.message}`))
      .finally(() => {
        this.reporting = undefined;
        if (this.reportAgain) {
          this.reportAgain = false;
          this.scheduleReport({ now: this.reportWaiters.length > 0 });
        }
      });
  }

  /** Report what changed; a full report (more may wait) is followed at once by the next. */
  private async reportChanged(): Promise<void> {
    for (;;) {
      // those who asked before this read; answered when its report is (or fails: the pull then
      // finds its messages still waiting on the server, takes nothing new and stops)
      const waiters = this.reportWaiters.splice(0);
      try {
        if ((await this.reportOnce()) < REPORT_LIMIT) return;
      } finally {
        for (const resolve of waiters) resolve();
      }
    }
  }

  /** Report up to `REPORT_LIMIT` changed messages, the oldest changes first; how many. */
  private async reportOnce(): Promise<number> {
    const { client, sms, messageStore, clock } = this.deps;
    const unreported = messageStore.unreportedCloud(REPORT_LIMIT);
    if (unreported.length === 0) return 0;
    const stamped = unreported.map(({ id, updatedAt }) => ({ id, updatedAt, wire: sms.toWire(sms.get(id)!) }));
    const reports: MessageReport[] = stamped.map(({ wire }) => ({
      id: wire.id,
      state: wire.state,
      recipients: wire.recipients,
      states: wire.states,
    }));
    await client.reportMessages(reports);
    const now = clock.now();
    messageStore.markReported(stamped, now);
    return unreported.length;
  }
}

/** What a pulled message carries: its dataMessage, its textMessage, or (older servers) only the deprecated message. */
function mobileContent(message: MobileMessage): MessageContent {
  if (message.dataMessage) return { dataMessage: message.dataMessage };
  const text = message.textMessage?.text ?? message.message;
  if (text === undefined)
    throw new InvalidInputError('the message has no content (no textMessage, dataMessage or message)');
  return { textMessage: { text } };
}

/** The report of a message this device will not send: Failed, for every recipient, with the reason. */
function failedReport(id: string, phoneNumbers: readonly string[], reason: string, at: string): MessageReport {
  return {
    id,
    state: 'Failed',
    recipients: phoneNumbers.map((phoneNumber) => ({ phoneNumber, state: 'Failed', error: reason })),
    states: { Failed: at },
  };
}
