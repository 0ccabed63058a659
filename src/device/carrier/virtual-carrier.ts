import type { Clock } from '../../shared/clock.ts';
import {
  requireSim,
  type DeliveryReport,
  type IncomingSms,
  type OutgoingSms,
  type ReceivedSms,
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

export interface VirtualCarrierOptions {
  clock: Clock;
  simCount?: number;
  /** how long the network takes to accept an SMS, ms */
  sendDelayMs?: number;
  /** how long after sending the delivery report comes, ms */
  reportDelayMs?: number;
}

/** A deterministic in-process SMS network. */
export class VirtualCarrier implements SmsCarrier {
  readonly simCount: number;
  private readonly reportHandlers: ((report: DeliveryReport) => void)[] = [];
  private incomingHandler: ((sms: IncomingSms) => ReceivedSms) | undefined;
  private readonly timers = new Set<unknown>();

  constructor(private readonly options: VirtualCarrierOptions) {
    this.simCount = options.simCount ?? 1;
  }

  send(sms: OutgoingSms): Promise<SendOutcome> {
    const magic = MAGIC_RECIPIENTS[digitsOnly(sms.phoneNumber)];
    return new Promise((resolve) => {
      this.after(this.options.sendDelayMs ?? 20, () => {
        if (magic?.outcome === 'refused') return resolve({ sent: false, reason: magic.reason });
        resolve({ sent: true });
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
   * An SMS arrives from the network: the one way in for incoming SMS (the simulation API, tests
   * and benchmarks all come through here). Answers with what the phone recorded.
   */
  receive(sms: IncomingSms): ReceivedSms {
    requireSim(this, sms.simNumber);
    if (!this.incomingHandler) throw new Error('no phone is attached to this carrier to receive the SMS');
    return this.incomingHandler(sms);
  }

  onDeliveryReport(handler: (report: DeliveryReport) => void): void {
    this.reportHandlers.push(handler);
  }

  onIncoming(handler: (sms: IncomingSms) => ReceivedSms): void {
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
