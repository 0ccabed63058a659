import type { Clock } from '../../shared/clock.ts';
import type { SimCard } from '../../protocol/index.ts';
import type { MmsContent } from '../store/inbox.ts';
import {
  requireSim,
  type DeliveryReport,
  type IncomingMessage,
  type OutgoingSms,
  type ReceivedMessage,
  type SendOutcome,
  type SmsCarrier,
} from './carrier.ts';

/**
 * Recipients that make the virtual carrier misbehave on purpose, so every event can be
 * triggered by hand. Numbers are compared by their digits only.
 */
export const MAGIC_RECIPIENTS: Record<string, { outcome: 'refused'; reason: string } | { outcome: 'no-report' }> = {
  '15550000001': { outcome: 'refused', reason: 'RESULT_ERROR_GENERIC_FAILURE' },
  '15550000002': { outcome: 'refused', reason: 'RESULT_ERROR_NO_SERVICE' },
  '15550000003': { outcome: 'refused', reason: 'RESULT_ERROR_RADIO_OFF' },
  '15550000004': { outcome: 'no-report' },
};

export const digitsOnly = (phone: string): string => phone.replace(/\D/g, '');

/** What a virtual SIM card is given: its own number and its carrier's name, both optional. */
export interface VirtualSimCard {
  phoneNumber?: string;
  carrierName?: string;
}

/** The SIM cards a device gets when it is not told: numbers and ICCIDs made up from the slot. */
export function defaultSimCards(count: number): VirtualSimCard[] {
  return Array.from({ length: count }, (_, slot) => ({
    phoneNumber: `+1555010${String(slot + 1).padStart(4, '0')}`,
    carrierName: 'Virtual Mobile',
  }));
}

/**
 * Read `--sims`: a count (`2`), or the cards themselves, comma-separated, each
 * `number[:carrier name]` (`+15550100001:Virtual Mobile,+15550100002:Other Net`); an empty number
 * leaves it unknown (`:Virtual Mobile`). Returns an error message for anything else.
 */
export function parseSimCards(spec: string): VirtualSimCard[] | string {
  const trimmed = spec.trim();
  if (/^\d+$/.test(trimmed)) {
    const count = Number(trimmed);
    if (count < 1 || count > 8) return `--sims must be 1 to 8 SIM cards, got ${count}`;
    return defaultSimCards(count);
  }
  const cards = trimmed.split(',').map((entry) => {
    const colon = entry.indexOf(':');
    const phoneNumber = (colon < 0 ? entry : entry.slice(0, colon)).trim();
    const carrierName = colon < 0 ? '' : entry.slice(colon + 1).trim();
    return { phoneNumber, carrierName };
  });
  if (cards.length > 8) return `--sims must be 1 to 8 SIM cards, got ${cards.length}`;
  for (const card of cards) {
    if (card.phoneNumber && !/^\+?\d{3,20}$/.test(card.phoneNumber))
      return `--sims: "${card.phoneNumber}" is not a phone number (digits, optionally after +)`;
    if (card.carrierName.length > 64) return '--sims: a carrier name is at most 64 characters';
  }
  return cards.map((card) => ({
    ...(card.phoneNumber ? { phoneNumber: card.phoneNumber } : {}),
    ...(card.carrierName ? { carrierName: card.carrierName } : {}),
  }));
}

export interface VirtualCarrierOptions {
  clock: Clock;
  /** how many SIM cards, with made-up numbers (ignored when `sims` is given) */
  simCount?: number;
  /** the SIM cards, slot by slot */
  sims?: VirtualSimCard[];
  /** how long the network takes to accept an SMS, ms */
  sendDelayMs?: number;
  /** how long after sending the delivery report comes, ms */
  reportDelayMs?: number;
  /** how long downloading an announced MMS takes, ms */
  mmsDownloadDelayMs?: number;
}

/** A deterministic in-process SMS network. */
export class VirtualCarrier implements SmsCarrier {
  readonly simCount: number;
  readonly simCards: readonly SimCard[];
  private readonly reportHandlers: ((report: DeliveryReport) => void)[] = [];
  private incomingHandler: ((message: IncomingMessage) => Promise<ReceivedMessage>) | undefined;
  private readonly timers = new Set<unknown>();
  /** the SMS the network accepted, oldest first (the last 1000): what a test or the simulation can look at */
  readonly sent: OutgoingSms[] = [];

  constructor(private readonly options: VirtualCarrierOptions) {
    const sims = options.sims ?? defaultSimCards(options.simCount ?? 1);
    this.simCards = sims.map((sim, slot) => ({
      slotIndex: slot,
      simNumber: slot + 1,
      ...(sim.phoneNumber ? { phoneNumber: sim.phoneNumber } : {}),
      ...(sim.carrierName ? { carrierName: sim.carrierName } : {}),
      iccid: `8999001${String(slot + 1).padStart(12, '0')}`,
    }));
    this.simCount = this.simCards.length;
  }

  send(sms: OutgoingSms): Promise<SendOutcome> {
    const magic = MAGIC_RECIPIENTS[digitsOnly(sms.phoneNumber)];
    return new Promise((resolve) => {
      this.after(this.options.sendDelayMs ?? 20, () => {
        if (magic?.outcome === 'refused') return resolve({ sent: false, reason: magic.reason });
        resolve({ sent: true });
        this.sent.push(sms);
        if (this.sent.length > 1000) this.sent.shift();
        this.awaitReports([sms]);
      });
    });
  }

  awaitReports(pending: OutgoingSms[]): void {
    for (const sms of pending) {
      const magic = MAGIC_RECIPIENTS[digitsOnly(sms.phoneNumber)];
      if (!sms.withDeliveryReport || magic?.outcome === 'no-report') continue;
      this.after(this.options.reportDelayMs ?? 50, () => {
        for (const handler of this.reportHandlers)
          handler({ messageId: sms.messageId, position: sms.position, delivered: true });
      });
    }
  }

  /**
   * A message arrives from the network: the one way in for incoming SMS, data SMS and MMS (the
   * simulation API, tests and benchmarks all come through here). Answers with what the phone
   * recorded, once it is committed; messages that arrive in the same turn commit together.
   */
  async receive(message: IncomingMessage): Promise<ReceivedMessage> {
    requireSim(this, message.simNumber);
    if (!this.incomingHandler) throw new Error('no phone is attached to this carrier to receive the message');
    return this.incomingHandler(message);
  }

  /**
   * The virtual MMSC keeps nothing of its own: the notification carried the message, the phone stored
   * it, and the download hands it back after the download delay (so a restart mid-download loses nothing).
   */
  downloadMms(_transactionId: string, announced: MmsContent): Promise<MmsContent> {
    return new Promise((resolve) => this.after(this.options.mmsDownloadDelayMs ?? 30, () => resolve(announced)));
  }

  onDeliveryReport(handler: (report: DeliveryReport) => void): void {
    this.reportHandlers.push(handler);
  }

  onIncoming(handler: (message: IncomingMessage) => Promise<ReceivedMessage>): void {
    this.incomingHandler = handler;
  }

  close(): void {
    for (const timer of this.timers) this.options.clock.clearTimeout(timer);
    this.timers.clear();
  }

  private after(ms: number, fn: () => void): void {
    const timer = this.options.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}
