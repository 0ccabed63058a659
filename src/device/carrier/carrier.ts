import { InvalidInputError } from '../../shared/errors.ts';
import type { SimCard } from '../../protocol/index.ts';
import type { MmsContent } from '../store/inbox.ts';

/** One SMS to one recipient, as handed to the transport. */
export interface OutgoingSms {
  messageId: string;
  /** the recipient's index in the message, so reports can name it unambiguously */
  position: number;
  phoneNumber: string;
  /** a text, or the bytes of a data SMS and the port they go to */
  content: { text: string } | { data: Buffer; port: number };
  simNumber: number | null;
  withDeliveryReport: boolean;
}

export type SendOutcome = { sent: true } | { sent: false; reason: string };

export interface DeliveryReport {
  messageId: string;
  position: number;
  delivered: boolean;
  reason?: string;
}

/** What arrives from the network: an SMS, a data SMS to a port, or an MMS notification. */
export type IncomingMessage =
  | { type?: 'SMS'; from: string; simNumber: number | null; text: string }
  | { type: 'DATA_SMS'; from: string; simNumber: number | null; data: Buffer; port: number }
  | {
      type: 'MMS';
      from: string;
      simNumber: number | null;
      transactionId: string;
      contentClass: string | null;
      /** the message the notification announces; the phone downloads it next (`downloadMms`) */
      content: MmsContent;
    };

/**
 * What the phone made of an incoming message: the inbox entry, the event it recorded, and one delivery
 * per webhook that wants it.
 */
export interface ReceivedMessage {
  inboxId: string;
  eventId: string;
  deliveryIds: string[];
}

/**
 * The SMS transport: what the radio and SIM cards are on a phone. The virtual carrier
 * implements it for development and tests; a modem driver can implement it for real SIMs.
 */
export interface SmsCarrier {
  readonly simCount: number;
  /** The SIM cards in the phone, slot by slot: their own numbers and carriers, when known. */
  readonly simCards: readonly SimCard[];
  /** Resolves when the network accepted the SMS (sent) or refused it. */
  send(sms: OutgoingSms): Promise<SendOutcome>;
  onDeliveryReport(handler: (report: DeliveryReport) => void): void;
  /**
   * The phone's one handler of incoming messages (a second call replaces the first). It resolves
   * once the message is committed: a network may count it delivered to the phone then.
   */
  onIncoming(handler: (message: IncomingMessage) => Promise<ReceivedMessage>): void;
  /** Download an announced MMS from the network; resolves with its parts. */
  downloadMms(transactionId: string, announced: MmsContent): Promise<MmsContent>;
  /**
   * After a restart: SMS that were sent but whose delivery report had not arrived yet. A real
   * network reports them anyway; the virtual carrier schedules their reports again.
   */
  awaitReports(pending: OutgoingSms[]): void;
  close(): void;
}

/** A SIM slot the carrier does not have is the caller's mistake, whichever way the SMS goes. */
export function requireSim(carrier: Pick<SmsCarrier, 'simCount'>, simNumber: number | null | undefined): void {
  if (simNumber != null && simNumber > carrier.simCount) {
    throw new InvalidInputError(`simNumber ${simNumber} does not exist: this device has ${carrier.simCount} SIM(s)`);
  }
}

/** The SIM's own number, when the carrier knows it (the `sender` of outgoing events). */
export function simPhoneNumber(carrier: Pick<SmsCarrier, 'simCards'>, simNumber: number | null): string | undefined {
  return carrier.simCards.find((card) => card.simNumber === (simNumber ?? 1))?.phoneNumber;
}
