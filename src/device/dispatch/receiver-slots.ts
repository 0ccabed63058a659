import { webhookTarget } from './webhook-target.ts';

/**
 * Attempts in flight per receiver (scheme, host and port), at most `limit` each, so that a
 * receiver that hangs cannot take every slot of the dispatcher. The outbox's claim asks `admit`
 * for every due delivery it reads (one refused stays pending, untouched); a finished attempt gives
 * its slot back with `release`.
 */
export class ReceiverSlots {
  private readonly inFlight = new Map<string, number>();
  private refused = false;

  constructor(readonly limit: number) {}

  /** Take a slot of the delivery's receiver, if it has one free. Bound, so it can be handed to the claim. */
  readonly admit = (url: string): boolean => {
    const origin = originOf(url);
    const busy = this.inFlight.get(origin) ?? 0;
    if (busy >= this.limit) {
      this.refused = true;
      return false;
    }
    this.inFlight.set(origin, busy + 1);
    return true;
  };

  /** Give back the slot an attempt to `url` held. */
  release(url: string): void {
    const origin = originOf(url);
    const busy = (this.inFlight.get(origin) ?? 1) - 1;
    if (busy > 0) this.inFlight.set(origin, busy);
    else this.inFlight.delete(origin);
  }

  /** Whether `admit` refused a delivery since the last call: a due delivery waits for its receiver. Resets. */
  takeRefused(): boolean {
    const refused = this.refused;
    this.refused = false;
    return refused;
  }

  /** Slots taken at `url`'s receiver. */
  busy(url: string): number {
    return this.inFlight.get(originOf(url)) ?? 0;
  }

  /** Every slot given back at once (the dispatcher stopped; its claims were released). */
  clear(): void {
    this.inFlight.clear();
    this.refused = false;
  }
}

/** A URL that does not parse is its own group; the sender reports it as the attempt's error. */
export const originOf = (url: string): string => webhookTarget(url)?.origin ?? url;
